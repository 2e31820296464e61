/**
 * Data-plane throughput, each figure against a raw baseline measured in the same run:
 * - ingestion of binary record files (scan, decode, COPY, commit per file) against a binary COPY of the
 *   same rows, encoded before the clock starts, into the same samples table;
 * - training through the full path (dataset files → ingest → seeded uniform selection written with
 *   INSERT … SELECT → loader with prefetch → trainer) against the same train-step session fed from
 *   in-memory tensors in a tight loop, for a sweep of partition size × prefetched partitions × parallel
 *   requests, as Modyn's throughput study reports it.
 * - the same full path for the small CNN on 32×32 RGB images stored one PNG per file.
 * `fullPath` takes any registered dataset and model, so both run through the same code.
 */
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import sharp from 'sharp';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { exitOnSignal, shutdownSignal } from '../cli/signals.js';
import type { Batch } from '../lib/data/batch.js';
import { batchCopy } from '../lib/data/batch-buffers.js';
import { categoricalCount, featureCount, FORMAT_PRESETS, parseDatasetConfig } from '../lib/data/dataset-config.js';
import { registerDataset, type Dataset } from '../lib/data/datasets.js';
import { scanFile } from '../lib/data/formats/index.js';
import { findNewFiles, ingestFiles } from '../lib/data/ingest.js';
import { trainingBatches, trainingEpochs, type LoaderOptions } from '../lib/data/loader.js';
import { writeTrainingSet } from '../lib/data/selection.js';
import { encodeBinaryCopy } from '../lib/db/copy-binary.js';
import { startEmbeddedPostgres } from '../lib/db/embedded.js';
import { migrate } from '../lib/db/migrate.js';
import { createPool } from '../lib/db/pool.js';
import type { ModelDefinition } from '../lib/onnx/models/model.js';
import { createModel } from '../lib/onnx/models/zoo.js';
import { createRng } from '../lib/rng.js';
import { initModelState } from '../lib/train/model-state.js';
import { trainModel } from '../lib/train/trainer.js';
import { parseSpec, type PipelineSpecInput } from '../policies/spec.js';
import { watchMainThread, worstStalls, type MainThreadStalls } from './main-thread.js';
import { OPTIMIZER, rawLoop } from './train.js';
import { removeBenchDir } from './remove-bench-dir.js';

const WARMUP_STEPS = 3;
const CRITEO = FORMAT_PRESETS.criteo;

export interface IngestFigures {
  rows: number;
  files: number;
  parallel: number;
  repeats: number;
  /** Tideline's ingestion (scan, decode, COPY, commit), rows/s. */
  ingestRowsPerS: number;
  /** Pre-encoded binary COPY of the same rows, one transaction per file, rows/s. */
  copyRowsPerS: number;
  /** Median over the rounds of COPY time / ingestion time. */
  ingestRatio: number;
  ingestRatios: number[];
  /** Tideline's bulk backfill (rows loaded unindexed, index built afterwards), rows/s. */
  bulkRowsPerS: number;
  /** bulkRowsPerS / ingestRowsPerS. */
  bulkGain: number;
  /** The worst of the rounds, field by field. */
  ingestStalls: MainThreadStalls;
}

/** One loader setting: the round with the median ratio, and the worst main-thread stalls of all rounds. */
export interface SweepRow extends Required<LoaderOptions> {
  samplesPerS: number;
  /** The trainer fed from memory, measured just before. */
  memorySamplesPerS: number;
  /** samplesPerS / memorySamplesPerS. */
  ratio: number;
  /** Each round's ratio. */
  ratios: number[];
  stalls: MainThreadStalls;
  memoryStalls: MainThreadStalls;
}

export interface FullPathFigures {
  model: string;
  batchSize: number;
  /** Samples in the training set (the selected share of the dataset). */
  selected: number;
  /** Timed steps of each measurement. */
  steps: number;
  /** The trainer fed from memory, median of the runs paired with the sweep rows. */
  memorySamplesPerS: number;
  /** The bare session in a tight loop on the main thread, for reference. */
  rawLoopSamplesPerS: number;
  sweep: SweepRow[];
}

export interface DataplaneOptions {
  /** Criteo-layout records generated and ingested. */
  rows: number;
  files: number;
  /** Files scanned at once by ingestion. */
  parallel: number;
  /** Rounds of the ingestion comparison. */
  repeats: number;
  batchSize: number;
  /** Timed training steps per measurement (fewer if the selection is smaller). */
  steps: number;
  /** Paired (from memory, through the loader) measurements per loader setting. */
  rounds: number;
  /** Share of the dataset selected for training (uniform, seeded). */
  fraction: number;
  partitionSizes: number[];
  prefetchPartitions: number[];
  parallelRequests: number[];
  /** Loader settings whose ratio is reported as dlrm_ratio. */
  loader: Required<LoaderOptions>;
  /** 32×32 PNG files (one sample each) of the CNN measurement; 0 skips it. */
  images: number;
  cnnBatchSize: number;
  cnnSteps: number;
  /** Loader settings of the CNN measurement (cnn_ratio). */
  cnnLoader: Required<LoaderOptions>;
  log?: (line: string) => void;
}

/**
 * Writes `rows` Criteo-layout records (160 bytes: label, 13 dense counts, 26 categorical ids, int32 LE)
 * split evenly over `files` files; the click label follows the first id's parity. Deterministic.
 */
export async function writeCriteoFiles(dir: string, rows: number, files: number, seed = 1): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const rng = createRng(seed);
  const names: string[] = [];
  for (let f = 0; f < files; f++) {
    const count = Math.floor(rows / files) + (f < rows % files ? 1 : 0);
    const values = new Int32Array(count * 40);
    for (let i = 0; i < count; i++) {
      const at = i * 40;
      for (let d = 1; d < 14; d++) values[at + d] = rng.int(100);
      for (let c = 14; c < 40; c++) values[at + c] = rng.int(1 << 30);
      values[at] = values[at + 14]! & 1;
    }
    const name = `part-${String(f).padStart(4, '0')}.bin`;
    await writeFile(path.join(dir, name), new Uint8Array(values.buffer));
    names.push(name);
  }
  return names;
}

const IMAGE_SIDE = 32;
const IMAGE_CLASSES = 4;

/**
 * Writes `count` random 32×32 RGB PNGs, one per file, into class folders `0`..`3` (image i in folder i mod 4).
 * Deterministic; returns the root-relative paths.
 */
export async function writeImageFiles(dir: string, count: number, seed = 1): Promise<string[]> {
  const rng = createRng(seed);
  const pixels = Buffer.alloc(IMAGE_SIDE * IMAGE_SIDE * 3);
  const names: string[] = [];
  for (let c = 0; c < IMAGE_CLASSES; c++) await mkdir(path.join(dir, String(c)), { recursive: true });
  for (let i = 0; i < count; i++) {
    for (let v = 0; v < pixels.length; v++) pixels[v] = rng.int(256);
    const name = `${i % IMAGE_CLASSES}/${String(i).padStart(6, '0')}.png`;
    await sharp(pixels, { raw: { width: IMAGE_SIDE, height: IMAGE_SIDE, channels: 3 } }).png().toFile(path.join(dir, name));
    names.push(name);
  }
  return names;
}

/** Watches the main thread while `work` runs. */
async function withStalls<T>(work: () => Promise<T>): Promise<[T, MainThreadStalls]> {
  const stop = watchMainThread();
  try {
    return [await work(), stop()];
  } catch (error) {
    stop();
    throw error;
  }
}

/**
 * Ingests the files under `root` three ways into fresh datasets of the same samples table: the raw
 * baseline (the rows Tideline stores, encoded for binary COPY before the clock starts, one COPY and
 * transaction per file), Tideline's ingestion and its bulk backfill; `repeats` rounds, interleaved (and the
 * first two in alternating order) so that drifting load on a shared machine hits all three alike. Figures are
 * medians over the rounds.
 */
export async function benchIngest(
  pool: pg.Pool, root: string, files: string[], args: { parallel: number; repeats: number; prefix?: string },
): Promise<{ figures: IngestFigures; dataset: Dataset }> {
  const { parallel, repeats, prefix = 'bench' } = args;
  const runs = { copy: [] as number[], ingest: [] as number[], bulk: [] as number[], ratio: [] as number[] };
  let rows = 0;
  let first: Dataset | undefined;
  const stalls: MainThreadStalls[] = [];
  for (let round = 0; round < repeats; round++) {
    const register = (name: string) => registerDataset(pool, { name: `${prefix}-${round}-${name}`, root, format: CRITEO });
    const [raw, tideline, bulk] = [await register('copy'), await register('ingest'), await register('bulk')];
    first ??= tideline;
    const encoded = await encodeForCopy(root, files, raw.id);
    rows = encoded.rows;
    // Odd rounds ingest before the baseline copies, so background work the server owes to the earlier load
    // (WAL, checkpoints) does not always land on the same side.
    // Each side starts from a checkpoint, so the WAL the server still owes for earlier loads is not written
    // during the next measurement.
    const ingest = async () => {
      await pool.query('CHECKPOINT');
      return withStalls(() => timed(() => ingestFiles(pool, tideline, files, { parallel })));
    };
    const copy = async () => {
      await pool.query('CHECKPOINT');
      return timed(() => copyFiles(pool, raw.id, encoded.files));
    };
    let copySeconds: number;
    let ingested: [number, MainThreadStalls];
    if (round % 2 === 0) [copySeconds, ingested] = [await copy(), await ingest()];
    else [ingested, copySeconds] = [await ingest(), await copy()];
    const [ingestSeconds, roundStalls] = ingested;
    stalls.push(roundStalls);
    await pool.query('CHECKPOINT');
    const bulkSeconds = await timed(() => ingestFiles(pool, bulk, files, { parallel, bulk: true }));
    const stored = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM samples WHERE dataset_id = ANY($1)', [[tideline.id, bulk.id, raw.id]]);
    if (stored.rows[0]!.n !== 3 * rows) throw new Error(`ingestion stored ${stored.rows[0]!.n} rows, expected ${3 * rows}`);
    runs.copy.push(rows / copySeconds);
    runs.ingest.push(rows / ingestSeconds);
    runs.bulk.push(rows / bulkSeconds);
    runs.ratio.push(copySeconds / ingestSeconds);
  }
  return {
    dataset: first!,
    figures: {
      rows, files: files.length, parallel, repeats,
      ingestRowsPerS: Math.round(median(runs.ingest)),
      copyRowsPerS: Math.round(median(runs.copy)),
      ingestRatio: round(median(runs.ratio), 3),
      ingestRatios: runs.ratio.map((r) => round(r, 3)),
      bulkRowsPerS: Math.round(median(runs.bulk)),
      bulkGain: round(median(runs.bulk) / median(runs.ingest), 3),
      ingestStalls: worstStalls(stalls),
    },
  };
}

/** The COPY stream of each file's rows as ingestion would store them (keys dense in file order). */
async function encodeForCopy(root: string, files: string[], datasetId: number): Promise<{ files: Buffer[][]; rows: number }> {
  const encoded: Buffer[][] = [];
  let rows = 0;
  for (const [f, file] of files.entries()) {
    const { count, labels, timestamps } = await scanFile(CRITEO, path.join(root, file), file, 0);
    const firstKey = rows + 1;
    encoded.push([...encodeBinaryCopy([
      { type: 'int4', constant: datasetId },
      { type: 'int8', sequenceFrom: firstKey },
      { type: 'int8', constant: f + 1 },
      { type: 'int4', sequenceFrom: 0 },
      { type: 'int4', values: labels },
      { type: 'int8', values: timestamps },
    ], count)]);
    rows += count;
  }
  return { files: encoded, rows };
}

/** One binary COPY and transaction per file. */
async function copyFiles(pool: pg.Pool, datasetId: number, files: Buffer[][]): Promise<void> {
  const client = await pool.connect();
  try {
    for (const chunks of files) {
      await client.query('BEGIN');
      await pipeline(
        Readable.from(chunks),
        client.query(copyFrom(`COPY samples_d${datasetId} (dataset_id, sample_key, file_id, index_in_file, label, ts) FROM STDIN (FORMAT binary)`)),
      );
      await client.query('COMMIT');
    }
  } finally {
    client.release();
  }
}

/** Writes a seeded uniform selection of `fraction` of the dataset as trigger 1 of a new pipeline; returns its id and size. */
export async function selectUniform(pool: pg.Pool, dataset: Dataset, fraction: number, seed: number): Promise<{ pipelineId: number; selected: number }> {
  const { rows } = await pool.query<{ pipeline_id: number }>(
    `INSERT INTO pipelines (name, dataset_id, spec) VALUES ($1, $2, '{}') RETURNING pipeline_id`,
    [`${dataset.name}-select-${fraction}-${seed}`, dataset.id],
  );
  const pipelineId = rows[0]!.pipeline_id;
  const selected = await writeTrainingSet(pool, {
    pipelineId, triggerId: 1, datasetId: dataset.id, ranges: [{ firstKey: 1, lastKey: Number.MAX_SAFE_INTEGER }],
    holdout: { fraction: 0, seed: 0 }, subset: { fraction, seed },
  });
  return { pipelineId, selected };
}

/** Samples/s of a timed training run, and the main thread's stalls during it. */
interface Throughput {
  samplesPerS: number;
  stalls: MainThreadStalls;
}

/**
 * Feeds trainModel the warm-up batches and `steps` more, and times those steps, from the end of the last warm-up
 * step to the end of the last step: the trainer's setup and teardown (creating the session, fetching the final
 * state) are the same on both sides of a ratio and would only dilute it. The main thread is watched over the same span.
 */
async function timedTraining(def: ModelDefinition, batches: AsyncIterable<Batch>, steps: number): Promise<Throughput> {
  let stop: (() => MainThreadStalls) | undefined;
  let timed: { seconds: number; samples: number; stalls: MainThreadStalls } | undefined;
  let started = 0;
  let counted = 0;
  await trainModel({
    model: def,
    optimizer: OPTIMIZER,
    state: initModelState(def, OPTIMIZER, 1),
    batches: take(batches, WARMUP_STEPS + steps),
    checkpointEvery: 0,
    onProgress: (p) => {
      if (p.step === WARMUP_STEPS) {
        started = performance.now();
        counted = p.samples;
        stop = watchMainThread();
      }
      if (p.step === WARMUP_STEPS + steps) timed = { seconds: (performance.now() - started) / 1000, samples: p.samples - counted, stalls: stop!() };
    },
  });
  if (!timed) {
    stop?.();
    throw new Error(`too few batches for ${WARMUP_STEPS} warm-up steps and ${steps} timed ones`);
  }
  return { samplesPerS: timed.samples / timed.seconds, stalls: timed.stalls };
}

/** The first `count` items of an async iterable; returning early lets the source clean up. */
async function* take<T>(items: AsyncIterable<T>, count: number): AsyncGenerator<T> {
  if (count <= 0) return;
  let n = 0;
  for await (const item of items) {
    yield item;
    if (++n === count) return;
  }
}

/**
 * Samples/s of trainModel fed by the loader, over `steps` batches after the warm-up: epoch after epoch
 * (trainingEpochs) when the selection holds fewer batches.
 */
export function loaderThroughput(
  pool: pg.Pool, dataset: Dataset, def: ModelDefinition,
  args: { pipelineId: number; batchSize: number; steps: number; loader: LoaderOptions; seed?: number },
): Promise<Throughput> {
  const batches = trainingEpochs(pool, dataset, {
    pipelineId: args.pipelineId, triggerId: 1, batchSize: args.batchSize, seed: args.seed ?? 1, epoch: 0, endEpoch: Infinity, dropLast: true, ...args.loader,
  });
  return timedTraining(def, batches, args.steps);
}

/**
 * Samples/s of trainModel fed `steps` batches after the warm-up from memory: copies of `batches`, round robin, in
 * arrays from where the loader takes its own (batchCopy: buffers the trainer gave back, else fresh), so that the
 * ratio to the loader's run is the data plane's own cost.
 */
export function memoryThroughput(def: ModelDefinition, batches: Batch[], steps: number): Promise<Throughput> {
  async function* copies(): AsyncGenerator<Batch> {
    for (let i = 0; i < WARMUP_STEPS + steps; i++) {
      yield batchCopy(batches[i % batches.length]!);
    }
  }
  return timedTraining(def, copies(), steps);
}

/**
 * The full path for one dataset and model: a seeded uniform selection of `fraction` of the dataset, then
 * `steps` timed training steps (after a warm-up) through the loader for each loader setting, over as many epochs
 * as that takes. Baselines, over as many steps: the same trainer (its train-step session in a worker) fed the
 * loader's batches from memory, paired with each loader run (`rounds` pairs per setting), which isolates the data
 * plane (`ratio`); and the bare session in a tight loop on the main thread, as bench/train.ts runs it
 * (`rawLoopSamplesPerS`).
 */
export async function fullPath(
  pool: pg.Pool, dataset: Dataset,
  args: {
    model: PipelineSpecInput['model']; batchSize: number; fraction: number; steps: number; rounds: number; loaders: Required<LoaderOptions>[];
    seed?: number; log?: (line: string) => void;
  },
): Promise<FullPathFigures> {
  const spec = parseSpec({ dataset: { name: dataset.name }, model: args.model, training: { optimizer: { name: 'adam', lr: 1e-3 } }, trigger: { kind: 'dataAmount', every: 1 } }).model;
  const def = createModel(spec, featureCount(dataset.format), categoricalCount(dataset.format));
  const seed = args.seed ?? 1;
  const { pipelineId, selected } = await selectUniform(pool, dataset, args.fraction, seed);
  const { steps } = args;
  if (selected < args.batchSize) throw new Error(`the selection of ${dataset.name} (${selected} samples) is too small for a batch of ${args.batchSize}`);
  const inMemory: Batch[] = [];
  const source = trainingBatches(pool, dataset, { pipelineId, triggerId: 1, batchSize: args.batchSize, seed, epoch: 0, dropLast: true });
  for await (const b of take(source, Math.min(WARMUP_STEPS + steps, 64))) inMemory.push(b);
  const rawLoopSamplesPerS = await rawLoop(def, inMemory[0]!, steps);
  args.log?.(`${dataset.name}: ${selected} samples selected, ${steps} timed steps of ${args.batchSize}; bare session loop ${Math.round(rawLoopSamplesPerS)} samples/s`);
  // One untimed pair first, so that the first setting of the sweep does not also pay for compiling the code
  // paths and warming the page cache.
  await memoryThroughput(def, inMemory, steps);
  await loaderThroughput(pool, dataset, def, { pipelineId, batchSize: args.batchSize, steps, loader: args.loaders[0]!, seed });
  const sweep: SweepRow[] = [];
  const memoryRuns: number[] = [];
  for (const loader of args.loaders) {
    // Each round pairs a baseline run with a loader run right next to it, so drifting load on a shared machine
    // hits both alike, and the two take turns going first; the row keeps the median round.
    const rounds: { loader: number; memory: number; stalls: MainThreadStalls; memoryStalls: MainThreadStalls }[] = [];
    for (let round = 0; round < args.rounds; round++) {
      const fromMemory = () => memoryThroughput(def, inMemory, steps);
      const throughLoader = () => loaderThroughput(pool, dataset, def, { pipelineId, batchSize: args.batchSize, steps, loader, seed });
      let memory: Throughput;
      let loaded: Throughput;
      if (round % 2 === 0) [memory, loaded] = [await fromMemory(), await throughLoader()];
      else [loaded, memory] = [await throughLoader(), await fromMemory()];
      rounds.push({ loader: loaded.samplesPerS, memory: memory.samplesPerS, stalls: loaded.stalls, memoryStalls: memory.stalls });
      memoryRuns.push(memory.samplesPerS);
    }
    const ratios = rounds.map((r) => r.loader / r.memory);
    const mid = rounds[ratios.indexOf(median(ratios, true))]!;
    const row = {
      ...loader, samplesPerS: Math.round(mid.loader), memorySamplesPerS: Math.round(mid.memory), ratio: round(mid.loader / mid.memory, 3),
      ratios: ratios.map((r) => round(r, 3)), stalls: worstStalls(rounds.map((r) => r.stalls)), memoryStalls: worstStalls(rounds.map((r) => r.memoryStalls)),
    };
    args.log?.(`  partition ${loader.partitionSize} prefetch ${loader.prefetchPartitions} requests ${loader.parallelRequests}: ${row.samplesPerS} samples/s, from memory ${row.memorySamplesPerS}, ratio ${row.ratio} (rounds ${row.ratios.join(', ')}); main thread: ${describeStalls(row.stalls)} (from memory: ${describeStalls(row.memoryStalls)})`);
    sweep.push(row);
  }
  return {
    model: spec.architecture, batchSize: args.batchSize, selected, steps,
    memorySamplesPerS: Math.round(median(memoryRuns)), rawLoopSamplesPerS: Math.round(rawLoopSamplesPerS), sweep,
  };
}

/** The whole benchmark in a temp dir with its own PostgreSQL; removes both afterwards. */
export async function benchDataplane(opts: DataplaneOptions) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-bench-dataplane-'));
  // As root, the server runs as `postgres` and must be able to enter the dir.
  await chmod(dir, 0o755);
  const log = opts.log ?? (() => {});
  // Signals are caught from here on: one while the server starts stops it once it is up, instead of orphaning it.
  shutdownSignal();
  // No autovacuum: its passes over the freshly loaded tables would land on whichever measurement runs next.
  const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), settings: { autovacuum: 'off' } });
  let removing: Promise<void> | undefined;
  // Retries: after a signal the measurement goes on writing files into the folder while it is removed.
  const removeServer = () => (removing ??= server.stop().then(() => removeBenchDir(dir)));
  // The measurements do not watch for signals: one stops the server and exits.
  const cancelStopOnSignal = exitOnSignal(removeServer);
  const pool = createPool(server.url);
  try {
    await migrate(pool);
    const root = path.join(dir, 'criteo');
    log(`writing ${opts.rows} Criteo-layout records in ${opts.files} files`);
    const files = await writeCriteoFiles(root, opts.rows, opts.files);
    const { figures: ingest, dataset } = await benchIngest(pool, root, files, { parallel: opts.parallel, repeats: opts.repeats });
    log(`ingest ${ingest.ingestRowsPerS} rows/s, binary COPY ${ingest.copyRowsPerS} rows/s, ratio ${ingest.ingestRatio} (rounds ${ingest.ingestRatios.join(', ')}), bulk ${ingest.bulkRowsPerS} rows/s (${ingest.bulkGain}x)`);
    const loaders = opts.partitionSizes.flatMap((partitionSize) =>
      opts.prefetchPartitions.flatMap((prefetchPartitions) => opts.parallelRequests.map((parallelRequests) => ({ partitionSize, prefetchPartitions, parallelRequests }))));
    const same = (a: Required<LoaderOptions>, b: Required<LoaderOptions>) =>
      a.partitionSize === b.partitionSize && a.prefetchPartitions === b.prefetchPartitions && a.parallelRequests === b.parallelRequests;
    if (!loaders.some((l) => same(l, opts.loader))) loaders.unshift(opts.loader);
    const dlrm = await fullPath(pool, dataset, { model: { architecture: 'dlrm' }, batchSize: opts.batchSize, fraction: opts.fraction, steps: opts.steps, rounds: opts.rounds, loaders, log });
    const chosen = dlrm.sweep.find((r) => same(r, opts.loader))!;
    const best = dlrm.sweep.reduce((a, b) => (b.samplesPerS > a.samplesPerS ? b : a));
    const cnn = opts.images > 0 ? await benchImages(pool, path.join(dir, 'images'), opts, log) : undefined;
    return {
      benchmark: 'dataplane',
      ingest_rows_per_s: ingest.ingestRowsPerS,
      ingest_ratio: ingest.ingestRatio,
      dlrm_ratio: chosen.ratio,
      dlrm_best_ratio: best.ratio,
      dlrm_ratio_vs_raw_loop: round(chosen.samplesPerS / dlrm.rawLoopSamplesPerS, 3),
      event_loop_p99_ms: chosen.stalls.p99Ms,
      event_loop_max_ms: chosen.stalls.maxMs,
      ...(chosen.stalls.maxBusyMs !== undefined && { main_thread_max_busy_ms: chosen.stalls.maxBusyMs }),
      gc_max_pause_ms: chosen.stalls.maxGcMs,
      ingest,
      ...(cnn && { cnn_ratio: cnn.sweep[0]!.ratio, cnn_ratio_vs_raw_loop: round(cnn.sweep[0]!.samplesPerS / cnn.rawLoopSamplesPerS, 3) }),
      dlrm: { ...dlrm, loader: opts.loader, best: { partitionSize: best.partitionSize, prefetchPartitions: best.prefetchPartitions, parallelRequests: best.parallelRequests } },
      ...(cnn && { cnn: { ...cnn, loader: opts.cnnLoader } }),
    };
  } finally {
    cancelStopOnSignal();
    await pool.end();
    await removeServer();
  }
}

/** Writes and ingests the PNG dataset, then runs the full path for the small CNN on it. */
async function benchImages(pool: pg.Pool, root: string, opts: DataplaneOptions, log: (line: string) => void): Promise<FullPathFigures> {
  log(`writing ${opts.images} 32×32 PNG files, one sample each`);
  await writeImageFiles(root, opts.images);
  const dataset = await registerDataset(pool, parseDatasetConfig({
    name: 'bench-images', root,
    format: { kind: 'image', channels: 3, height: IMAGE_SIDE, width: IMAGE_SIDE, label: { from: 'folder' }, numClasses: IMAGE_CLASSES },
  }));
  const ingestSeconds = await timed(async () => ingestFiles(pool, dataset, await findNewFiles(pool, dataset), { parallel: opts.parallel }));
  log(`ingested ${opts.images} images in ${ingestSeconds.toFixed(1)} s (${Math.round(opts.images / ingestSeconds)} files/s, decode included)`);
  return fullPath(pool, dataset, {
    model: { architecture: 'cnn', numClasses: IMAGE_CLASSES, inputShape: [3, IMAGE_SIDE, IMAGE_SIDE] },
    batchSize: opts.cnnBatchSize, fraction: opts.fraction, steps: opts.cnnSteps, rounds: opts.rounds, loaders: [opts.cnnLoader], log,
  });
}

function describeStalls(s: MainThreadStalls): string {
  return `delay p99 ${s.p99Ms} ms, max ${s.maxMs} ms; longest busy ${s.maxBusyMs ?? '?'} ms, GC pause ${s.maxGcMs} ms`;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** The median; with `member`, the lower middle value of an even count, so it is one of the values. */
function median(values: number[], member = false): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length % 2) return sorted[mid]!;
  return member ? sorted[mid - 1]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}
