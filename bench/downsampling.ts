/**
 * What model-based downsampling costs, each figure measured in the same run:
 * - `bts_overhead_vs_bound`: batch-then-sample Loss training (each step scores B/ratio samples and trains on B)
 *   ÷ its bound, plain training on B plus one extra forward pass on the B/ratio samples (fetching the outputs,
 *   all Loss reads), both measured here on the same in-memory batches (copied before the clock starts) in a
 *   session host, rounds interleaved. Target ≤ 1.1. `bts.scoringMs` is the trainer's own scoringMs: selection
 *   and its forwards, not the steps the forwards queue behind.
 * - `stb_scoring_ratio`: the sample-then-batch scoring pass (lib/train/scoring-pass.ts: keys and samples read from
 *   PostgreSQL and the dataset files through the loader, inference in the session host's worker thread, reading
 *   overlapping inference, in a warm host as the training activity keeps one across rounds) ÷ a bare loop that reads the same samples through the same loader and runs each batch
 *   through an onnxruntime session on the main thread, one after the other, in samples/s. Target ≥ 0.9. The
 *   bare session loop over the samples already in memory is reported beside it (`inMemorySamplesPerS`).
 * - `strategies`: one trigger's training (the training activity, 2 epochs) with each strategy and mode against no
 *   selection on the same training set: wall time, trained samples/s, scored samples and scoring time.
 * The model is a zoo MLP 784-256-10.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { chmod, mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { trainingActivities, type TrainedModel } from '../activities/training.js';
import type { Batch } from '../lib/data/batch.js';
import { parseDatasetConfig } from '../lib/data/dataset-config.js';
import { registerDataset } from '../lib/data/datasets.js';
import { ingestFiles } from '../lib/data/ingest.js';
import { keyedBatches } from '../lib/data/loader.js';
import { writeTrainingSet } from '../lib/data/selection.js';
import { holdOutForIrreducibleLoss } from '../lib/data/training-set/irreducible-holdout.js';
import { inTransaction } from '../lib/db/transaction.js';
import { startEmbeddedPostgres } from '../lib/db/embedded.js';
import { migrate } from '../lib/db/migrate.js';
import { createPool } from '../lib/db/pool.js';
import { inferenceBatchSize } from '../lib/eval/model-outputs.js';
import { exportInferenceModel } from '../lib/models/export.js';
import { buildInference } from '../lib/onnx/models/build.js';
import type { ModelDefinition } from '../lib/onnx/models/model.js';
import { createModel } from '../lib/onnx/models/zoo.js';
import { DEFAULT_SESSION_OPTIONS, SessionHost } from '../lib/onnx/session-host.js';
import { upsertPipeline } from '../lib/pipelines/registry.js';
import { batchThenSample, scoredBatchSize } from '../lib/train/batch-then-sample.js';
import { initModelState, type ModelState } from '../lib/train/model-state.js';
import { scoringPass } from '../lib/train/scoring-pass.js';
import { trainModel } from '../lib/train/trainer.js';
import type { Downsampler } from '../policies/selection/downsampling-schema.js';
import { parseSpec, type ModelSpec } from '../policies/spec.js';
import { spread, timedMs, type Spread } from './rounds.js';
import { bareLoop, randomBatches, recordFormat, writeSamples } from './synthetic-samples.js';
import { OPTIMIZER } from './train.js';
import { removeBenchDir } from './remove-bench-dir.js';

export interface DownsamplingBenchOptions {
  /** Samples in the training set of the scoring-pass and per-strategy figures. */
  samples: number;
  /** Training steps per bts round. */
  steps: number;
  batchSize: number;
  ratio: number;
  rounds: number;
  log?: (line: string) => void;
}

export interface StrategyRow {
  strategy: string;
  mode: 'none' | Downsampler['mode'];
  wallMs: number;
  /** Wall time ÷ that of no selection. */
  wallRatio: number;
  trainedSamples: number;
  trainedPerS: number;
  scoredSamples: number;
  scoringMs: number;
}

export interface DownsamplingBenchReport {
  bts_overhead_vs_bound: Spread;
  bts: { plainMs: Spread; forwardMs: Spread; btsMs: Spread; scoringMs: Spread; steps: number; batchSize: number; loadedBatchSize: number };
  stb_scoring_ratio: Spread;
  stb: { bareSamplesPerS: Spread; passSamplesPerS: Spread; inMemorySamplesPerS: Spread; samples: number };
  strategies: StrategyRow[];
}

const FEATURES = 784;
const CLASSES = 10;
const SPEC: ModelSpec = { architecture: 'mlp', hidden: [256], numClasses: CLASSES };

export async function benchDownsampling(opts: DownsamplingBenchOptions): Promise<DownsamplingBenchReport> {
  const log = opts.log ?? (() => {});
  const def = createModel(SPEC, FEATURES);
  const bts = await batchThenSampleOverhead(def, opts, log);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-bench-downsampling-'));
  await chmod(dir, 0o755);
  const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), settings: { autovacuum: 'off' } });
  const pool = createPool(server.url);
  try {
    await migrate(pool);
    const root = path.join(dir, 'data');
    await mkdir(root, { recursive: true });
    log(`writing and ingesting ${opts.samples} samples of ${FEATURES} features`);
    await writeSamples(root, 'samples.bin', { samples: opts.samples, features: FEATURES, numClasses: CLASSES, shift: 0, seed: 1 });
    const dataset = await registerDataset(pool, parseDatasetConfig({ name: 'bench-downsampling', root, format: recordFormat(FEATURES, CLASSES), holdout: { fraction: 0 } }));
    await ingestFiles(pool, dataset, ['samples.bin']);
    const { pipelineId } = await upsertPipeline(pool, 'bench-downsampling', 'bench', dataset.id, {});
    let triggerId = 0;
    /** A fresh trigger whose training set is every sample. */
    const nextTrigger = async () => {
      const id = triggerId++;
      await writeTrainingSet(pool, { pipelineId, triggerId: id, datasetId: dataset.id, ranges: [{ firstKey: 1, lastKey: opts.samples }], holdout: dataset.holdout });
      return id;
    };

    // The scoring pass against a bare loop over the same samples in memory.
    const state = initModelState(def, OPTIMIZER, 1);
    const inferenceBatch = inferenceBatchSize(FEATURES);
    const bare = await ort.InferenceSession.create(exportInferenceModel(def, state), DEFAULT_SESSION_OPTIONS);
    const inMemory = randomBatches(opts.samples, FEATURES, inferenceBatch, CLASSES, 2);
    const scoringTrigger = await nextTrigger();
    const host = new SessionHost();
    const pass = () => drain(scoringPass(pool, dataset, {
      pipelineId, triggerId: scoringTrigger, model: def, state, needs: 'outputs', batchSize: inferenceBatch, chunkSize: 65_536, host,
    }));
    const bareThroughLoader = async () => {
      const { rows } = await pool.query<{ k: string }>('SELECT sample_key AS k FROM training_samples WHERE pipeline_id = $1 AND trigger_id = $2 ORDER BY 1', [pipelineId, scoringTrigger]);
      const keys = Float64Array.from(rows, (r) => Number(r.k));
      for await (const b of keyedBatches(pool, dataset, { keys, batchSize: inferenceBatch })) {
        await bare.run({ x: new ort.Tensor('float32', b.x, [b.size, b.features]) }, ['output']);
      }
    };
    await bareThroughLoader();
    await pass();
    const stb = { bare: [] as number[], pass: [] as number[], inMemory: [] as number[], ratio: [] as number[] };
    for (let round = 0; round < opts.rounds; round++) {
      const bareS = await timedMs(bareThroughLoader) / 1000;
      const passS = await timedMs(pass) / 1000;
      const inMemoryS = await timedMs(() => bareLoop(bare, inMemory, 'output')) / 1000;
      stb.bare.push(opts.samples / bareS);
      stb.pass.push(opts.samples / passS);
      stb.inMemory.push(opts.samples / inMemoryS);
      stb.ratio.push(bareS / passS);
      log(`round ${round + 1}: scoring pass ${(opts.samples / passS).toFixed(0)}/s, bare loop through the loader ${(opts.samples / bareS).toFixed(0)}/s (${(bareS / passS).toFixed(3)}), in memory ${(opts.samples / inMemoryS).toFixed(0)}/s`);
    }
    await bare.release();
    await host.close();

    // One trigger per strategy, each through the training activity.
    const training = parseSpec({
      dataset: { name: 'bench' }, model: SPEC, trigger: { kind: 'dataAmount', every: 1 },
      training: { epochs: 2, batchSize: opts.batchSize, optimizer: { name: 'adam', lr: 0.001 }, checkpointEvery: 0 },
    }).training;
    const { trainModel: train } = trainingActivities({ pool, storeDir: path.join(dir, 'store'), executionProvider: 'cpu' });
    const runStrategy = async (downsampling?: Downsampler): Promise<{ ms: number; trained: TrainedModel }> => {
      const id = await nextTrigger();
      if (downsampling?.strategy === 'rhoLoss') {
        // What selection does for RHO-LOSS: the irreducible-loss model's holdout leaves the training set.
        await inTransaction(pool, (client) => holdOutForIrreducibleLoss(client, pipelineId, id, 1, { strategy: 'simple', ratio: downsampling.holdout.ratio! }));
      }
      let trained: TrainedModel | undefined;
      const ms = await timedMs(async () => {
        trained = await new MockActivityEnvironment().run(train, {
          pipelineId, datasetId: dataset.id, triggerId: id, model: SPEC, features: FEATURES, training, parentModelId: null, downsampling,
        });
      });
      return { ms, trained: trained! };
    };
    const ratio = opts.ratio;
    const variants: Array<[string, Downsampler | undefined]> = [
      ['none', undefined],
      ['loss', { strategy: 'loss', ratio, mode: 'batchThenSample', period: 1 }],
      ['gradNorm', { strategy: 'gradNorm', ratio, mode: 'batchThenSample', period: 1 }],
      ['uncertainty', { strategy: 'uncertainty', ratio, mode: 'batchThenSample', period: 1, scoreMetric: 'margin', balance: false }],
      ['loss', { strategy: 'loss', ratio, mode: 'sampleThenBatch', period: 1 }],
      ['uncertainty', { strategy: 'uncertainty', ratio, mode: 'sampleThenBatch', period: 1, scoreMetric: 'entropy', balance: false }],
      ['kCenterGreedy', { strategy: 'kCenterGreedy', ratio, mode: 'sampleThenBatch', period: 1, balance: false }],
      ['gradMatch', { strategy: 'gradMatch', ratio, mode: 'sampleThenBatch', period: 1, fullGradApproximation: 'lastLayer', balance: false }],
      ['craig', { strategy: 'craig', ratio, mode: 'sampleThenBatch', period: 1, fullGradApproximation: 'lastLayer', balance: false, greedy: 'lazy', selectionBatch: 64 }],
      ['submodular', {
        strategy: 'submodular', ratio, mode: 'sampleThenBatch', period: 1, fullGradApproximation: 'lastLayer', balance: false,
        greedy: 'lazy', selectionBatch: 64, submodularFunction: 'facilityLocation',
      }],
      ['rhoLoss', { strategy: 'rhoLoss', ratio, mode: 'batchThenSample', period: 1, holdout: { strategy: 'simple', ratio: 0.1 }, irreducibleEpochs: 1 }],
      ['rs2', { strategy: 'rs2', ratio, mode: 'sampleThenBatch', period: 1, withReplacement: false }],
    ];
    const strategies: StrategyRow[] = [];
    let noneMs = 0;
    for (const [strategy, downsampling] of variants) {
      const { ms, trained } = await runStrategy(downsampling);
      if (!downsampling) noneMs = ms;
      const row: StrategyRow = {
        strategy, mode: downsampling?.mode ?? 'none', wallMs: Math.round(ms), wallRatio: Number((ms / noneMs).toFixed(3)),
        trainedSamples: trained.samples, trainedPerS: Math.round(trained.samples / (ms / 1000)),
        scoredSamples: trained.scoredSamples, scoringMs: Math.round(trained.scoringMs),
      };
      strategies.push(row);
      log(`${strategy.padEnd(14)} ${row.mode.padEnd(16)} ${String(row.wallMs).padStart(6)} ms (${row.wallRatio.toFixed(2)} of none), trained ${row.trainedSamples} (${row.trainedPerS}/s), scored ${row.scoredSamples} in ${row.scoringMs} ms`);
    }
    return {
      ...bts,
      stb_scoring_ratio: spread(stb.ratio, 3),
      stb: { bareSamplesPerS: spread(stb.bare, 0), passSamplesPerS: spread(stb.pass, 0), inMemorySamplesPerS: spread(stb.inMemory, 0), samples: opts.samples },
      strategies,
    };
  } finally {
    await pool.end();
    await server.stop();
    await removeBenchDir(dir);
  }
}

/**
 * Batch-then-sample Loss against its bound, on in-memory batches: plain training on B, a forward pass of the
 * inference graph on B/ratio in a session host fetching the outputs (as the trainer's own forward for Loss runs),
 * and batch-then-sample itself.
 */
async function batchThenSampleOverhead(def: ModelDefinition, opts: DownsamplingBenchOptions, log: (line: string) => void) {
  const loaded = scoredBatchSize(opts.batchSize, opts.ratio);
  const small = randomBatches(opts.steps * opts.batchSize, FEATURES, opts.batchSize, CLASSES, 3);
  const large = randomBatches(opts.steps * loaded, FEATURES, loaded, CLASSES, 4);
  const state = initModelState(def, OPTIMIZER, 1);
  const downsampler: Downsampler = { strategy: 'loss', ratio: opts.ratio, mode: 'batchThenSample', period: 1 };
  /**
   * Copies with buffers of their own (the trainer detaches what it trains on), made before the clock starts, so
   * neither side is timed copying: batch-then-sample's batches are four times as large.
   */
  const inMemory = (batches: Batch[]): AsyncIterable<Batch> => {
    const own = batches.map((b) => ({ ...b, x: b.x.slice(), y: b.y.slice(), w: b.w.slice() }));
    return (async function* () {
      yield* own;
    })();
  };
  // Each call starts from a copy of `state`, made before the clock starts: the trainer takes the state it is given.
  const plain = (batches: AsyncIterable<Batch>, start: ModelState) => trainModel({ model: def, optimizer: OPTIMIZER, state: start, batches, checkpointEvery: 0 });
  const bts = (batches: AsyncIterable<Batch>, start: ModelState) => trainModel({
    model: def, optimizer: OPTIMIZER, state: start, batches, checkpointEvery: 0,
    selectBatch: batchThenSample({ downsampler, batchSize: opts.batchSize, loss: def.loss, seed: 1, firstStep: 0 }),
  });
  const host = new SessionHost();
  try {
    const session = await host.createSession(buildInference(def, { ...state.params, ...state.buffers }));
    const forward = async () => {
      for (const b of large) await session.run({ x: { type: 'float32', dims: [b.size, FEATURES], data: b.x } }, { fetch: ['output'] });
    };
    await plain(inMemory(small), structuredClone(state));
    await bts(inMemory(large), structuredClone(state));
    await forward();
    const runs = { plain: [] as number[], forward: [] as number[], bts: [] as number[], scoring: [] as number[], ratio: [] as number[] };
    for (let round = 0; round < opts.rounds; round++) {
      const plainBatches = inMemory(small);
      const plainStart = structuredClone(state);
      const plainMs = await timedMs(() => plain(plainBatches, plainStart));
      const forwardMs = await timedMs(forward);
      const btsBatches = inMemory(large);
      const btsStart = structuredClone(state);
      let scoringMs = 0;
      const btsMs = await timedMs(async () => {
        ({ scoringMs } = await bts(btsBatches, btsStart));
      });
      runs.plain.push(plainMs);
      runs.forward.push(forwardMs);
      runs.bts.push(btsMs);
      runs.scoring.push(scoringMs);
      runs.ratio.push(btsMs / (plainMs + forwardMs));
      log(`round ${round + 1}: plain ${plainMs.toFixed(0)} ms + forward ${forwardMs.toFixed(0)} ms = bound; batch-then-sample ${btsMs.toFixed(0)} ms (${runs.ratio.at(-1)!.toFixed(3)}), scoring ${scoringMs.toFixed(0)} ms of it`);
    }
    return {
      bts_overhead_vs_bound: spread(runs.ratio, 3),
      bts: { plainMs: spread(runs.plain, 0), forwardMs: spread(runs.forward, 0), btsMs: spread(runs.bts, 0), scoringMs: spread(runs.scoring, 0), steps: opts.steps, batchSize: opts.batchSize, loadedBatchSize: loaded },
    };
  } finally {
    await host.close();
  }
}

async function drain(chunks: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of chunks) void _;
}
