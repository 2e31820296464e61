/**
 * Training throughput of the CNN on 32×32 RGB images stored one per PNG file, read through the loader
 * (trainingBatches: keys from PostgreSQL, files resolved in the root, decoded pixels from the memory cache, the
 * pixel store in the root, or sharp), against the same trainer fed the same batches from memory. Store: the
 * memory cache emptied first, as in a process that did not ingest. Cold: every file touched first, so every image
 * is decoded again (neither cache serves a changed file). Run: node --import tsx bench/image-files.ts [images] [rounds]
 */
import { mkdir, mkdtemp, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { Batch } from '../lib/data/batch.js';
import { batchCopy } from '../lib/data/batch-buffers.js';
import { parseDatasetConfig } from '../lib/data/dataset-config.js';
import { registerDataset } from '../lib/data/datasets.js';
import { clearPixelCache } from '../lib/data/formats/pixel-cache.js';
import { findNewFiles, ingestFiles } from '../lib/data/ingest.js';
import { trainingBatches } from '../lib/data/loader.js';
import { writeTrainingSet } from '../lib/data/selection.js';
import { createModel } from '../lib/onnx/models/zoo.js';
import type { OptimizerConfig } from '../lib/onnx/optimizers.js';
import { createRng } from '../lib/rng.js';
import { initModelState } from '../lib/train/model-state.js';
import { trainModel } from '../lib/train/trainer.js';
import { startTestPostgres } from '../test/helpers/postgres.js';

const IMAGES = Number(process.argv[2] ?? 2048);
const ROUNDS = Number(process.argv[3] ?? 3);
const SIDE = 32;
const BATCH = 64;
const OPTIMIZER: OptimizerConfig = { name: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
const def = createModel({ architecture: 'cnn', numClasses: 4, inputShape: [3, SIDE, SIDE], filters: [32, 32] }, 3 * SIDE * SIDE);

/** Samples/s of one trainModel pass over `batches`, timed from the end of its third step to the end of its last (not its teardown). */
async function trainThroughput(batches: AsyncIterable<Batch>): Promise<number> {
  let started = 0;
  let ended = 0;
  let samples = 0;
  const cpu = process.cpuUsage();
  await trainModel({
    model: def, optimizer: OPTIMIZER, state: initModelState(def, OPTIMIZER, 1), batches, checkpointEvery: 0,
    onProgress: (p) => {
      if (p.step === 3) [started, samples] = [performance.now(), p.samples];
      else if (p.step > 3) [ended, samples] = [performance.now(), p.samples];
    },
  });
  const used = process.cpuUsage(cpu);
  cpuPerSample.push((used.user + used.system) / samples);
  return (samples - (BATCH * 3)) / ((ended - started) / 1000);
}

/** µs of process CPU per sample of each trainThroughput call, in call order. */
const cpuPerSample: number[] = [];

async function* fromMemory(batches: Batch[]): AsyncGenerator<Batch> {
  // A copy each step in the arrays the loader would use (the trainer transfers what it gets, and gives it back).
  for (const b of batches) yield batchCopy(b);
}

const root = await mkdtemp(path.join(os.tmpdir(), 'tideline-image-bench-'));
const postgres = await startTestPostgres();
try {
  const rng = createRng(1);
  const raw = Buffer.alloc(SIDE * SIDE * 3);
  for (let i = 0; i < IMAGES; i++) {
    const dir = path.join(root, String(i % 4));
    await mkdir(dir, { recursive: true });
    for (let v = 0; v < raw.length; v++) raw[v] = rng.int(256);
    await sharp(raw, { raw: { width: SIDE, height: SIDE, channels: 3 } }).png().toFile(path.join(dir, `${String(i).padStart(6, '0')}.png`));
  }
  const dataset = await registerDataset(postgres.pool, parseDatasetConfig({
    name: 'images', root, format: { kind: 'image', height: SIDE, width: SIDE, label: { from: 'folder' }, numClasses: 4 },
  }));
  let t = performance.now();
  const outcomes = await ingestFiles(postgres.pool, dataset, await findNewFiles(postgres.pool, dataset));
  console.log(`ingest (decode included): ${outcomes.length} files, ${((performance.now() - t) / IMAGES).toFixed(2)} ms/file`);
  await writeTrainingSet(postgres.pool, { pipelineId: 1, triggerId: 1, datasetId: dataset.id, ranges: [{ firstKey: 1, lastKey: IMAGES }], holdout: { fraction: 0, seed: 1 } });
  const epoch = (e: number) => trainingBatches(postgres.pool, dataset, { pipelineId: 1, triggerId: 1, batchSize: BATCH, seed: 1, epoch: e });

  // CPU time counts every thread of the process (main, libuv pool, sharp), which on a shared machine says more
  // than wall time: it is what the loader takes away from the training session.
  const report = (what: string, wallMs: number, cpu: NodeJS.CpuUsage) =>
    console.log(`loader alone, ${what}: ${Math.round(IMAGES / (wallMs / 1000))} samples/s, ${((cpu.user + cpu.system) / IMAGES).toFixed(0)} µs CPU/sample`);
  const memory: Batch[] = [];
  t = performance.now();
  let cpu = process.cpuUsage();
  for await (const b of epoch(0)) memory.push(b);
  report('warm cache', performance.now() - t, process.cpuUsage(cpu));
  clearPixelCache();
  t = performance.now();
  cpu = process.cpuUsage();
  for await (const _ of epoch(1)) void _;
  report('store (memory cache empty)', performance.now() - t, process.cpuUsage(cpu));
  const touchAll = async () => {
    const now = Date.now() / 1000;
    for (let i = 0; i < IMAGES; i++) await utimes(path.join(root, String(i % 4), `${String(i).padStart(6, '0')}.png`), now, now);
  };
  await touchAll();
  t = performance.now();
  cpu = process.cpuUsage();
  for await (const _ of epoch(1)) void _;
  report('cold (every image decoded and stored)', performance.now() - t, process.cpuUsage(cpu));

  for (let round = 0; round < ROUNDS; round++) {
    const mem = await trainThroughput(fromMemory(memory));
    const warm = await trainThroughput(epoch(2 + round));
    clearPixelCache();
    const stored = await trainThroughput(epoch(2 + round));
    await touchAll();
    const cold = await trainThroughput(epoch(2 + round));
    const [memCpu, warmCpu, storeCpu, coldCpu] = cpuPerSample.slice(-4).map((c) => c.toFixed(0));
    console.log(
      `round ${round + 1}: samples/s (µs CPU/sample) memory ${mem.toFixed(0)} (${memCpu}), files warm ${warm.toFixed(0)} (${warmCpu}) ratio ${(warm / mem).toFixed(3)}, `
      + `store ${stored.toFixed(0)} (${storeCpu}) ratio ${(stored / mem).toFixed(3)}, files cold ${cold.toFixed(0)} (${coldCpu}) ratio ${(cold / mem).toFixed(3)}`,
    );
  }
} finally {
  await postgres.stop();
  await rm(root, { recursive: true, force: true });
}
