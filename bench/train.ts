/**
 * Training throughput of the model zoo: a tight loop over the train-step session on the main thread,
 * fed from in-memory tensors (the raw baseline, one step per run), against the trainer (session in a worker thread,
 * batches handed over as transferable buffers while the next ones are produced, K steps per run as it chooses
 * unless told), taking turns in the same run.
 * For models with host-held tables the raw loop does the same gather and table update (wasm-table.ts) on the main
 * thread around each run, where the trainer has its worker do them.
 */
import { fork } from 'node:child_process';
import ort from 'onnxruntime-node';
import type { Batch } from '../lib/data/batch.js';
import { batchCopy } from '../lib/data/batch-buffers.js';
import { batchInputs } from '../lib/onnx/batch-feeds.js';
import { buildTrainStep, modelParameters } from '../lib/onnx/models/build.js';
import type { ModelDefinition } from '../lib/onnx/models/model.js';
import { createModel } from '../lib/onnx/models/zoo.js';
import { nchwcBlock } from '../lib/onnx/nchwc-block.js';
import { intraOpThreadOptions } from '../lib/onnx/session-host.js';
import { baseLearningRates, optimizerStateNames, type OptimizerConfig } from '../lib/onnx/optimizers.js';
import { initialValue, paramSize } from '../lib/onnx/params.js';
import { tableRows } from '../lib/onnx/session-host-tables.js';
import { WasmTable } from '../lib/onnx/wasm-table.js';
import { createRng } from '../lib/rng.js';
import { rngSeedAt } from '../lib/train/schedules.js';
import { hostTableRuns, hostTensorNames } from '../lib/train/host-tables.js';
import { initModelState } from '../lib/train/model-state.js';
import { trainBatchFeeds } from '../lib/train/train-batch.js';
import { trainModel } from '../lib/train/trainer.js';
import type { ModelSpec } from '../policies/spec.js';
import { spread, type Spread } from './rounds.js';

export interface TrainBenchRow {
  model: string;
  batchSize: number;
  /** Steps each side times per round. */
  steps: number;
  /** The trainer's steps per session run: the one given, or its automatic choice. */
  stepsPerRun: number;
  rawSamplesPerS: Spread;
  trainerSamplesPerS: Spread;
  /** trainer ÷ raw, taken within each round. */
  ratio: Spread;
  /** The trainer's, through its first segment. */
  peakRssMb: number;
}

/** The optimizer every benchmark trains with. */
export const OPTIMIZER: OptimizerConfig = { name: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/** The zoo as the benchmark runs it: each model with the input its spec needs (and categorical ids per sample, if any). */
export const BENCH_MODELS: { name: string; spec: ModelSpec; features: number; categorical?: number }[] = [
  { name: 'logisticRegression', spec: { architecture: 'logisticRegression', numClasses: 10 }, features: 784 },
  { name: 'mlp', spec: { architecture: 'mlp', hidden: [128], numClasses: 10 }, features: 784 },
  { name: 'cnn', spec: { architecture: 'cnn', numClasses: 10, inputShape: [3, 32, 32], filters: [32, 32] }, features: 3072 },
  { name: 'resnet', spec: { architecture: 'resnet', numClasses: 10, inputShape: [3, 32, 32], widths: [16, 32, 64], blocksPerStage: 1 }, features: 3072 },
  // Criteo's layout: 13 dense features, 26 categorical fields. Every table is held in the training worker: 4096 rows
  // a table (1.7M values in all) are updated densely, 100k rows (1.6M values) a table lazily (row-sparse).
  { name: 'dlrm', spec: { architecture: 'dlrm', vocabSize: 4096, embeddingDim: 16, bottom: [64, 16], top: [64] }, features: 13, categorical: 26 },
  // Hashed bag of words: 64 token ids per sample, no float features.
  { name: 'textClassifier', spec: { architecture: 'textClassifier', numClasses: 4, vocabSize: 32768, embeddingDim: 32, hidden: [] }, features: 0, categorical: 64 },
  { name: 'dlrm-host-100k', spec: { architecture: 'dlrm', vocabSize: 100_000, embeddingDim: 16, bottom: [64, 16], top: [64] }, features: 13, categorical: 26 },
];

/** Random inputs; raw categorical ids spread over 10M values, so most tables' rows are hashed to at random. */
export function randomBatch(def: ModelDefinition, size: number, features: number, categorical: number, seed: number): Batch {
  const rng = createRng(seed);
  const x = new Float32Array(size * features).map(() => rng.next());
  const y = new Int32Array(size).map(() => rng.int(def.loss === 'softmax-ce' ? def.outputSize : 2));
  const batch: Batch = { x, y, w: new Float32Array(size).fill(1), size, features };
  if (categorical === 0) return batch;
  return { ...batch, categorical: new Int32Array(size * categorical).map(() => rng.int(10_000_000)), categoricalCount: categorical };
}

/** The BENCH_MODELS model named `model` and its random batch of `batchSize` (seeded by the batch size), as every bench row builds them. */
export function benchModel(model: string, batchSize: number): { def: ModelDefinition; batch: Batch } {
  const entry = BENCH_MODELS.find((m) => m.name === model);
  if (!entry) throw new Error(`bench: unknown model ${model} (known: ${BENCH_MODELS.map((m) => m.name).join(', ')})`);
  const { spec, features, categorical = 0 } = entry;
  const def = createModel(spec, features, categorical);
  return { def, batch: randomBatch(def, batchSize, features, categorical, batchSize) };
}

/** One train step of a bare session on the main thread; `run` takes the 1-based step number. */
export interface RawStepper {
  session: ort.InferenceSession;
  /** Takes step `step` and returns the session's outputs. */
  run(step: number): Promise<ort.InferenceSession.ReturnType>;
}

/**
 * Copies of the batch the raw loop cycles through, as training reads another batch each step. Fed one copy again and
 * again, a small model's step read its inputs from the core's own cache, which no training run does: the bare
 * logisticRegression loop at batch 256 ran about 15% faster on one copy than on eight (mlp at 256 about 10%).
 */
const BATCH_COPIES = 8;

/**
 * The train-step session fed `batch` (BATCH_COPIES copies of it in turn) with the state fed back output to input
 * (and the gather and update of worker-held tables done here, in their WasmTables, timed into `hostMs` when given).
 */
export async function rawStepper(
  def: ModelDefinition, batch: Batch, options: ort.InferenceSession.SessionOptions = {}, hostMs?: { gather: number; update: number },
): Promise<RawStepper> {
  // The graph the trainer builds on this machine for these threads (its convs as NCHWc kernels where the CPU has them).
  const graph = buildTrainStep(def, OPTIMIZER, { nchwcBlock: await nchwcBlock(), intraOpThreads: options.intraOpNumThreads });
  const session = await ort.InferenceSession.create(graph, { intraOpNumThreads: 1, interOpNumThreads: 1, ...options });
  const { params, buffers, hostTables } = modelParameters(def);
  const hostNames = hostTensorNames(hostTables, OPTIMIZER);
  const tables = hostTableRuns(hostTables, OPTIMIZER);
  const rng = createRng(1);
  const feeds: Record<string, ort.Tensor> = {};
  /** Host tables and their optimizer state, kept here rather than fed. */
  const held: Record<string, Float32Array> = {};
  const place = (name: string, value: Float32Array, shape: number[]) => {
    if (hostNames.has(name)) held[name] = value;
    else feeds[name] = new ort.Tensor('float32', value, shape);
  };
  for (const spec of [...params, ...buffers]) place(spec.name, initialValue(spec, rng), spec.shape);
  for (const spec of params) {
    for (const name of optimizerStateNames(spec.name, OPTIMIZER)) place(name, new Float32Array(paramSize(spec)), spec.shape);
  }
  // The batch's feeds as the trainer makes them (trainBatchFeeds), each copy in buffers of its own.
  const inputs = batchInputs(def);
  const batchFeeds = (): Record<string, ort.Tensor> => Object.fromEntries(
    Object.entries(trainBatchFeeds({ ...batch, x: batch.x.slice(), w: batch.w.slice() }, def, inputs)).map(([name, t]) => [name, new ort.Tensor(t.type, t.data, t.dims)]),
  );
  const copies = Array.from({ length: BATCH_COPIES }, batchFeeds);
  Object.assign(feeds, copies[0]);
  const lrs = baseLearningRates(OPTIMIZER);
  for (const [name, lr] of Object.entries(lrs)) feeds[name] = new ort.Tensor('float32', [lr], []);
  const stateNames = Object.keys(feeds).filter((n) => session.outputNames.includes(`${n}__new`));
  const wasmTables = tables.map((h) => new WasmTable(held[h.table]!, h.states.map((n) => held[n]!), h.dim, h.rule, h.update));
  const run = async (step: number) => {
    Object.assign(feeds, copies[step % BATCH_COPIES]);
    feeds.step = new ort.Tensor('float32', [step], []);
    if (session.inputNames.includes('rng_seed')) feeds.rng_seed = new ort.Tensor('float32', [rngSeedAt(0, step)], []);
    const gatherStarted = performance.now();
    const rows = tables.map((h, i) => {
      const ids = feeds[h.ids]!;
      const r = tableRows(ids.data as BigInt64Array, ids.dims[1]!, h.source, h.vocab, h.table);
      feeds[h.rows] = new ort.Tensor('float32', wasmTables[i]!.gather(r), [batch.size, h.source.columns.length, h.dim]);
      return r;
    });
    if (hostMs) hostMs.gather += performance.now() - gatherStarted;
    const out = await session.run(feeds);
    for (const name of stateNames) feeds[name] = out[`${name}__new`]!;
    const updateStarted = performance.now();
    tables.forEach((h, i) => wasmTables[i]!.step(rows[i]!, out[h.grad]!.data as Float32Array, Math.fround(lrs[h.lr]!), step));
    if (hostMs) hostMs.update += performance.now() - updateStarted;
    return out;
  };
  return { session, run };
}

/** Samples/s of `rawStepper`'s loop for `steps` steps after a three-step warm-up, its session on `threads` intra-op threads. */
export async function rawLoop(def: ModelDefinition, batch: Batch, steps: number, threads = 1): Promise<number> {
  const { session, run } = await rawStepper(def, batch, intraOpThreadOptions(threads));
  for (let step = 1; step <= 3; step++) await run(step);
  const started = performance.now();
  for (let step = 4; step < 4 + steps; step++) await run(step);
  const seconds = (performance.now() - started) / 1000;
  await session.release();
  return (steps * batch.size) / seconds;
}

/**
 * Segment length (seconds of the raw loop) and rounds of the turn-taking benchmarks (train, peer, noise) unless told.
 * Twice the rounds of half the length, in the same time, read no closer to 1 in `tide bench noise` (bench/README.md,
 * "The noise floor").
 */
export const TURNS = { seconds: 0.5, rounds: 10 };

/** Trainer segments before the first round: K is chosen and the sessions warmed up in them. */
const WARMUP_SEGMENTS = 2;
/** Even a slow step's segment has this many steps. */
const MIN_SEGMENT_STEPS = 3;

/** Steps of a segment lasting about `seconds` of the bare session, from a short probe of it; at least MIN_SEGMENT_STEPS. */
export async function segmentSteps(def: ModelDefinition, batch: Batch, seconds: number, threads: number): Promise<number> {
  const probe = await rawLoop(def, batch, 3, threads);
  return Math.max(MIN_SEGMENT_STEPS, Math.round((seconds * probe) / batch.size));
}

/** The side the trainer takes turns with: `run(steps)` trains that many steps and resolves to the milliseconds they took. */
export interface BaselineSegments {
  run(steps: number): Promise<number>;
  close(): Promise<void>;
}

/** The raw loop (rawStepper) as segments, after its three warm-up steps. */
export async function rawSegments(def: ModelDefinition, batch: Batch, threads = 1): Promise<BaselineSegments> {
  const stepper = await rawStepper(def, batch, intraOpThreadOptions(threads));
  let step = 0;
  while (step < 3) await stepper.run(++step);
  return {
    async run(steps) {
      const started = performance.now();
      for (let i = 0; i < steps; i++) await stepper.run(++step);
      return performance.now() - started;
    },
    close: () => stepper.session.release(),
  };
}

/**
 * One trainer call and a baseline (the raw loop unless given) taking turns, segment by segment: the trainer trains
 * `warmup + rounds` segments of `steps` steps with a checkpoint after each (where it drains its runs and waits for
 * the callback), and after each timed segment the baseline runs `steps` steps while the worker sits idle. Each round
 * pairs two segments a fraction of a second apart, so the pair sees the same machine: on a VM whose speed drifts by
 * a third over seconds, rounds of whole runs seconds apart differed by more than the trainer's overhead. The warm-up
 * segments hold the trainer's choice of K and its sessions' first runs; the baseline is started after them. The
 * trainer's window ends as its last step is reported (the checkpoint's copy of the state out of the worker is left
 * out, as the baseline leaves out its setup). Samples/s of each round, both sides.
 */
export async function pairedRounds(
  def: ModelDefinition, batch: Batch, steps: number, rounds: number,
  opts: {
    /** The trainer's stepsPerRun; absent: its automatic choice. */
    stepsPerRun?: number;
    /** Intra-op threads of both sides' train-step sessions; default 1. */
    threads?: number;
    /** The other side, started after the warm-up segments; default the raw loop (rawSegments). */
    baseline?: () => Promise<BaselineSegments>;
  } = {},
): Promise<{ baseline: number[]; trainer: number[]; peakRssMb: number; stepsPerRun: number }> {
  const warmup = WARMUP_SEGMENTS;
  const segments = warmup + rounds;
  const samplesPerS = (ms: number) => (steps * batch.size * 1000) / ms;
  const startBaseline = opts.baseline ?? (() => rawSegments(def, batch, opts.threads));
  const baseline: number[] = [];
  const trainer: number[] = [];
  // The trainer's own memory while it trains: sampled through the first segment, before its first checkpoint copies the
  // state out (500 MB for dlrm-host-100k) and before the baseline starts.
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  let other: BaselineSegments | undefined;
  let segmentStarted = 0;
  let segmentEnded = 0;
  async function* batches(): AsyncGenerator<Batch> {
    // A copy each step in the arrays the loader would use (the trainer transfers what it gets, and gives it back).
    for (let i = 0; i < segments * steps; i++) yield batchCopy(batch);
  }
  try {
    const result = await trainModel({
      model: def,
      optimizer: OPTIMIZER,
      state: initModelState(def, OPTIMIZER, 1),
      batches: batches(),
      checkpointEvery: steps,
      stepsPerRun: opts.stepsPerRun,
      intraOpThreads: opts.threads,
      onProgress: (p) => {
        if (p.step % steps === 0) segmentEnded = performance.now();
        if (p.step === steps) {
          clearInterval(sampler);
          peak = Math.max(peak, process.memoryUsage().rss);
        }
      },
      onCheckpoint: async (_state, stepsDone) => {
        const segment = stepsDone / steps;
        if (segment === warmup) other = await startBaseline();
        if (segment > warmup) {
          trainer.push(samplesPerS(segmentEnded - segmentStarted));
          baseline.push(samplesPerS(await other!.run(steps)));
        }
        segmentStarted = performance.now();
      },
    });
    return { baseline, trainer, peakRssMb: peak / 2 ** 20, stepsPerRun: result.stepsPerRun };
  } finally {
    clearInterval(sampler);
    await other?.close();
  }
}

/** What one row of `tide bench train` measures: a zoo model at a batch size. */
export interface TrainRowRequest {
  model: string;
  batchSize: number;
  seconds: number;
  rounds: number;
  stepsPerRun?: number;
  threads: number;
}

/** One row in this process, its segments about `seconds` of the raw loop each. */
export async function benchTrainRow(req: TrainRowRequest): Promise<TrainBenchRow> {
  const { def, batch } = benchModel(req.model, req.batchSize);
  const steps = await segmentSteps(def, batch, req.seconds, req.threads);
  const { baseline: raw, trainer, peakRssMb, stepsPerRun } = await pairedRounds(def, batch, steps, req.rounds, { stepsPerRun: req.stepsPerRun, threads: req.threads });
  return {
    model: req.model, batchSize: req.batchSize, steps, stepsPerRun,
    rawSamplesPerS: spread(raw, 0), trainerSamplesPerS: spread(trainer, 0),
    ratio: spread(trainer.map((t, i) => t / raw[i]!), 3),
    peakRssMb: Math.round(peakRssMb),
  };
}

const ROW_PROCESS = new URL('./train-row-process.ts', import.meta.url);

/**
 * `benchTrainRow` in a child process of its own, so that its peak RSS is its own: in one process, what earlier rows
 * freed stays resident (a dlrm-host-100k row at 256 read 2.6 GB after the one at 64, against 1.3 GB alone).
 */
function benchTrainRowProcess(req: TrainRowRequest): Promise<TrainBenchRow> {
  const child = fork(ROW_PROCESS, [JSON.stringify(req)], { execArgv: ['--import', import.meta.resolve('tsx')], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let row: TrainBenchRow | undefined;
    child.on('message', (message) => (row = message as TrainBenchRow));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (row) resolve(row);
      else reject(new Error(`bench train: the row for ${req.model} at batch ${req.batchSize} ended without a result (exit ${code ?? signal})`));
    });
  });
}

/** Each zoo model at each batch size, a row each, every row in a fresh process (`benchTrainRow`). */
export async function benchTrain(opts: {
  batchSizes: number[];
  seconds: number;
  rounds: number;
  onRow?: (row: TrainBenchRow) => void;
  /** The trainer's stepsPerRun (K optimizer steps per session run); absent: its automatic choice. */
  stepsPerRun?: number;
  /** Intra-op threads of both sides' train-step sessions; default 1. */
  threads?: number;
  /** Only these BENCH_MODELS names; default all. */
  models?: string[];
}): Promise<TrainBenchRow[]> {
  const rows: TrainBenchRow[] = [];
  for (const { name } of BENCH_MODELS.filter((m) => !opts.models || opts.models.includes(m.name))) {
    for (const batchSize of opts.batchSizes) {
      const row = await benchTrainRowProcess({ model: name, batchSize, seconds: opts.seconds, rounds: opts.rounds, stepsPerRun: opts.stepsPerRun, threads: opts.threads ?? 1 });
      rows.push(row);
      opts.onRow?.(row);
    }
  }
  return rows;
}
