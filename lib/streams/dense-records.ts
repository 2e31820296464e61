import type { StreamFormat } from './stream.js';

/**
 * Records of a label (int32), a timestamp (int64 seconds) and float32 features, little-endian: the layout of
 * examples/mnist-drift/dataset.yaml, shared by the streams whose features are all dense.
 */
export function denseRecordFormat(features: number, numClasses: number): StreamFormat {
  return {
    kind: 'binary',
    recordSize: 12 + 4 * features,
    byteOrder: 'little',
    label: { offset: 0, type: 'int32' },
    timestamp: { offset: 4, type: 'int64' },
    features: { offset: 12, count: features },
    numClasses,
  };
}

/** One period's records in the dense layout, set one by one. */
export class DenseRecords {
  readonly buffer: Buffer;
  private readonly recordSize: number;

  constructor(private readonly features: number, count: number) {
    this.recordSize = 12 + 4 * features;
    this.buffer = Buffer.alloc(count * this.recordSize);
  }

  set(index: number, label: number, ts: number, features: ArrayLike<number>): void {
    if (features.length !== this.features) throw new Error(`record ${index}: ${features.length} features, expected ${this.features}`);
    const at = index * this.recordSize;
    this.buffer.writeInt32LE(label, at);
    this.buffer.writeBigInt64LE(BigInt(ts), at + 4);
    for (let f = 0; f < features.length; f++) this.buffer.writeFloatLE(features[f]!, at + 12 + 4 * f);
  }
}
