/**
 * Samples the inference benchmarks make up: record files to ingest, in-memory batches, and the baseline every
 * inference path is divided by (a bare onnxruntime session loop over those batches on the main thread).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { Batch } from '../lib/data/batch.js';
import { createRng } from '../lib/rng.js';

/** Records: label int32, timestamp int64 (seconds), float32 features; labels cycle through the classes. */
export function recordFormat(features: number, numClasses: number) {
  return {
    kind: 'binary' as const, recordSize: 12 + 4 * features, byteOrder: 'little' as const,
    label: { offset: 0, type: 'int32' as const }, timestamp: { offset: 4, type: 'int64' as const },
    features: { offset: 12, count: features }, numClasses,
  };
}

/** A file of `samples` records of recordFormat: standard normal features plus `shift`, deterministic for a seed. */
export async function writeSamples(
  dir: string, name: string, opts: { samples: number; features: number; numClasses: number; shift: number; seed: number },
): Promise<void> {
  const rng = createRng(opts.seed);
  const recordSize = 12 + 4 * opts.features;
  const buffer = Buffer.alloc(opts.samples * recordSize);
  for (let i = 0; i < opts.samples; i++) {
    const at = i * recordSize;
    buffer.writeInt32LE(i % opts.numClasses, at);
    buffer.writeBigInt64LE(BigInt(1_700_000_000 + opts.seed * opts.samples + i), at + 4);
    for (let f = 0; f < opts.features; f++) buffer.writeFloatLE(rng.normal() + opts.shift, at + 12 + 4 * f);
  }
  await writeFile(path.join(dir, name), buffer);
}

/** Batches of standard normal features whose labels cycle through the classes (every class present, as metrics need). */
export function randomBatches(samples: number, features: number, batchSize: number, numClasses: number, seed: number): Batch[] {
  const rng = createRng(seed);
  const batches: Batch[] = [];
  for (let at = 0; at < samples; at += batchSize) {
    const size = Math.min(batchSize, samples - at);
    batches.push({
      x: Float32Array.from({ length: size * features }, () => rng.normal()),
      y: Int32Array.from({ length: size }, (_, i) => (at + i) % numClasses),
      w: new Float32Array(size).fill(1), size, features,
    });
  }
  return batches;
}

/** Copies with buffers of their own, made before the clock starts: a measured path may transfer (detach) them. */
export function fresh(batches: Batch[]): AsyncIterable<Batch> {
  const copies = batches.map((b) => ({ ...b, x: b.x.slice() }));
  return (async function* () {
    yield* copies;
  })();
}

/** The baseline: each batch through the session on the main thread, one run after another, fetching `output` only. */
export async function bareLoop(session: ort.InferenceSession, batches: Batch[], output: string): Promise<void> {
  for (const b of batches) await session.run({ x: new ort.Tensor('float32', b.x, [b.size, b.features]) }, [output]);
}
