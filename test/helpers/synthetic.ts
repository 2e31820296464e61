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

/**
 * Writes Criteo-layout records (160 bytes: label, 13 int32 dense counts, 26 int32 categorical ids) whose
 * click label is learnable: it follows the parity of the first categorical id and the size of the first
 * dense count. Deterministic for a seed.
 */
export async function writeCriteoFile(dir: string, name: string, opts: { samples: number; seed: number }): Promise<string> {
  const rng = createRng(opts.seed);
  const buffer = Buffer.alloc(opts.samples * 160);
  for (let i = 0; i < opts.samples; i++) {
    const at = i * 160;
    const category = rng.int(1 << 30) - (1 << 29);
    const count = rng.int(100);
    buffer.writeInt32LE((category & 1) === 1 || count > 80 ? 1 : 0, at);
    buffer.writeInt32LE(count, at + 4);
    for (let d = 1; d < 13; d++) buffer.writeInt32LE(rng.int(50), at + 4 + 4 * d);
    buffer.writeInt32LE(category, at + 56);
    for (let c = 1; c < 26; c++) buffer.writeInt32LE(rng.int(1 << 30), at + 56 + 4 * c);
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, name), buffer);
  return name;
}
