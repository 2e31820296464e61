import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng } from '../../lib/rng.js';

/** Binary layout of the synthetic datasets: label int32, timestamp int64 (seconds), float32 features. */
export function syntheticFormat(features: number, numClasses: number) {
  return {
    kind: 'binary' as const,
    recordSize: 12 + 4 * features,
    byteOrder: 'little' as const,
    label: { offset: 0, type: 'int32' as const },
    timestamp: { offset: 4, type: 'int64' as const },
    features: { offset: 12, count: features },
    numClasses,
  };
}

/**
 * Writes one file of a learnable problem: each class is a Gaussian blob around its own centre.
 * Timestamps run evenly over [startTs, startTs + spanS). Deterministic for a seed.
 */
export async function writeBlobFile(
  dir: string,
  name: string,
  opts: { samples: number; features: number; numClasses: number; startTs: number; spanS: number; seed: number },
): Promise<string> {
  const rng = createRng(opts.seed);
  const recordSize = 12 + 4 * opts.features;
  const buffer = Buffer.alloc(opts.samples * recordSize);
  for (let i = 0; i < opts.samples; i++) {
    const label = i % opts.numClasses;
    const at = i * recordSize;
    buffer.writeInt32LE(label, at);
    buffer.writeBigInt64LE(BigInt(opts.startTs + Math.floor((i * opts.spanS) / opts.samples)), at + 4);
    for (let f = 0; f < opts.features; f++) {
      const centre = f % opts.numClasses === label ? 2 : 0;
      buffer.writeFloatLE(centre + 0.7 * rng.normal(), at + 12 + 4 * f);
    }
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, name), buffer);
  return name;
}
