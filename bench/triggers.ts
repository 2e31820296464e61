/**
 * What a model-aware trigger check costs, each figure measured in the same run, rounds interleaved:
 * - `drift_check_ms`: every drift metric (mmd, ks, cvm, hellinger, meanDistance) on two windows of `samples`
 *   embeddings of `width` dimensions, on a warm session host;
 * - `embedding_ratio`: embeddings extracted through lib/eval/model-outputs.ts (the cached session in the host's
 *   worker thread, two runs in flight, NaN check, rows gathered into a matrix) ÷ a bare onnxruntime session loop
 *   on the main thread over the same batches, in samples/s;
 * - `check_ms`: the whole `measureModel` activity call as the pipeline pays for it: both windows' keys and samples
 *   read from PostgreSQL and the dataset files, inference, the metrics; on warm cached sessions, and the first,
 *   cold call (session host, model and MMD sessions started) separately as `check_cold_ms`.
 * The model is a zoo MLP with a `width`-wide embedding. Figures are medians over the rounds, with min and max.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { chmod, mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { driftMetrics, measurementActivities } from '../activities/measurement.js';
import { parseDatasetConfig } from '../lib/data/dataset-config.js';
import { registerDataset } from '../lib/data/datasets.js';
import { ingestFiles } from '../lib/data/ingest.js';
import { startEmbeddedPostgres } from '../lib/db/embedded.js';
import { migrate } from '../lib/db/migrate.js';
import { createPool } from '../lib/db/pool.js';
import { matrix, type Matrix } from '../lib/eval/drift/matrix.js';
import { embeddingMatrix, inferenceBatchSize } from '../lib/eval/model-outputs.js';
import { ModelSessions } from '../lib/eval/model-sessions.js';
import { exportInferenceModel } from '../lib/models/export.js';
import { ModelStore } from '../lib/models/store.js';
import { createModel } from '../lib/onnx/models/zoo.js';
import { DEFAULT_SESSION_OPTIONS } from '../lib/onnx/session-host.js';
import { upsertModel } from '../lib/pipelines/models.js';
import { upsertPipeline } from '../lib/pipelines/registry.js';
import { createRng } from '../lib/rng.js';
import { initModelState, writeModelState } from '../lib/train/model-state.js';
import type { ModelSpec } from '../policies/spec.js';
import type { DriftMetricRequest, MeasureRequest } from '../policies/triggers/protocol.js';
import { round, spread, timedMs } from './rounds.js';
import { bareLoop, fresh, randomBatches, recordFormat, writeSamples } from './synthetic-samples.js';
import { OPTIMIZER } from './train.js';
import { removeBenchDir } from './remove-bench-dir.js';

export interface TriggersBenchOptions {
  /** Samples in each window. */
  samples: number;
  /** Embedding width (the MLP's last hidden layer). */
  width: number;
  /** Float features per sample (the MLP's input). */
  features: number;
  /** Samples of each embedding-throughput pass. */
  embedSamples: number;
  /** Samples per run of the embedding-throughput passes; default: what the measurement activity uses. */
  batchSize?: number;
  rounds: number;
  log?: (line: string) => void;
}

const CLASSES = 10;

/** Every metric, as a drift trigger configured with all of them asks. */
export const ALL_METRICS: DriftMetricRequest[] = [
  { kind: 'mmd' },
  { kind: 'ks', correction: 'bonferroni', pValue: 0.05 },
  { kind: 'cvm', correction: 'fdr', pValue: 0.05 },
  { kind: 'hellinger' },
  { kind: 'meanDistance' },
];

/** The whole benchmark in a temp dir with its own PostgreSQL; removes both afterwards. */
export async function benchTriggers(opts: TriggersBenchOptions) {
  const log = opts.log ?? (() => {});
  const batchSize = opts.batchSize ?? inferenceBatchSize(opts.features);
  const spec: ModelSpec = { architecture: 'mlp', hidden: [256, opts.width], numClasses: CLASSES };
  const def = createModel(spec, opts.features);
  const state = initModelState(def, OPTIMIZER, 1);
  const onnx = exportInferenceModel(def, state);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-bench-triggers-'));
  // As root, the server runs as `postgres` and must be able to enter the dir.
  await chmod(dir, 0o755);
  const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), settings: { autovacuum: 'off' } });
  const pool = createPool(server.url);
  const sessions = new ModelSessions({ idleMs: 0 });
  const bare = await ort.InferenceSession.create(onnx, DEFAULT_SESSION_OPTIONS);
  try {
    await migrate(pool);
    // Reference window: keys 1..samples; current window: the next `samples` keys, every feature shifted.
    const root = path.join(dir, 'data');
    await mkdir(root, { recursive: true });
    log(`writing and ingesting 2 × ${opts.samples} samples of ${opts.features} features`);
    const samples = { samples: opts.samples, features: opts.features, numClasses: CLASSES };
    await writeSamples(root, 'reference.bin', { ...samples, shift: 0, seed: 1 });
    await writeSamples(root, 'current.bin', { ...samples, shift: 0.5, seed: 2 });
    const dataset = await registerDataset(pool, parseDatasetConfig({ name: 'bench-triggers', root, format: recordFormat(opts.features, CLASSES) }));
    await ingestFiles(pool, dataset, ['reference.bin', 'current.bin']);
    const { pipelineId } = await upsertPipeline(pool, 'bench-triggers', 'bench', dataset.id, {});
    const store = new ModelStore(path.join(dir, 'store'));
    const trained = path.join(store.runDir(pipelineId, 1), 'final.state');
    await writeModelState(store.resolve(trained), state);
    const files = await store.publish(pipelineId, 1, def, trained);
    const modelId = await upsertModel(pool, pipelineId, {
      triggerId: 1, parentModelId: null, architecture: { ...spec, features: opts.features }, ...files, numSamples: 0, trainingMs: 0, finalLoss: null,
    });

    const { measureModel } = measurementActivities({ pool, storeDir: store.root, executionProvider: 'cpu' }, sessions);
    const request: MeasureRequest = {
      kind: 'embeddingDrift', modelId, seed: 1, sampleSize: opts.samples, metrics: ALL_METRICS,
      reference: { firstKey: 1, lastKey: opts.samples }, current: { firstKey: opts.samples + 1, lastKey: 2 * opts.samples },
    };
    const check = () => new MockActivityEnvironment().run(measureModel, { pipelineId, datasetId: dataset.id, policy: 'trigger', request });
    const checkColdMs = await timedMs(check);
    log(`first (cold) check ${checkColdMs.toFixed(0)} ms`);

    const [ref, cur] = [randomEmbeddings(opts.samples, opts.width, 0, 3), randomEmbeddings(opts.samples, opts.width, 0.1, 4)];
    const batches = randomBatches(opts.embedSamples, opts.features, batchSize, CLASSES, 5);
    const load = async () => ({ bytes: onnx, def });
    const runs = { drift: [] as number[], check: [] as number[], bare: [] as number[], ours: [] as number[], ratio: [] as number[] };
    // One unmeasured pass each warms both sessions.
    await bareLoop(bare, batches, 'embedding');
    await sessions.use(0, load, (model) => embeddingMatrix(model, fresh(batches)));
    for (let round = 0; round < opts.rounds; round++) {
      const bareS = await timedMs(() => bareLoop(bare, batches, 'embedding')) / 1000;
      const copies = fresh(batches);
      const oursS = await timedMs(() => sessions.use(0, load, (model) => embeddingMatrix(model, copies))) / 1000;
      runs.bare.push(opts.embedSamples / bareS);
      runs.ours.push(opts.embedSamples / oursS);
      runs.ratio.push(bareS / oursS);
      runs.drift.push(await timedMs(() => sessions.withHost((host) => driftMetrics(host, ref, cur, ALL_METRICS))));
      runs.check.push(await timedMs(check));
      log(`round ${round + 1}: embedding ratio ${(bareS / oursS).toFixed(3)}, drift check ${runs.drift.at(-1)!.toFixed(0)} ms, whole check ${runs.check.at(-1)!.toFixed(0)} ms`);
    }
    const ratio = spread(runs.ratio, 3);
    const drift = spread(runs.drift, 1);
    const whole = spread(runs.check, 1);
    return {
      benchmark: 'triggers',
      drift_check_ms: drift.median,
      embedding_ratio: ratio.median,
      check_ms: whole.median,
      check_cold_ms: round(checkColdMs, 1),
      drift_check: { ...drift, samples: opts.samples, width: opts.width, metrics: ALL_METRICS.map((m) => m.kind) },
      embedding: {
        ratio, model: `mlp ${opts.features}-256-${opts.width}-${CLASSES}`, batchSize, samples: opts.embedSamples,
        oursSamplesPerS: spread(runs.ours, 0), bareSamplesPerS: spread(runs.bare, 0),
      },
      check: { ...whole, samplesPerWindow: opts.samples, features: opts.features },
      rounds: opts.rounds,
      cache: { ...sessions.stats },
    };
  } finally {
    await bare.release();
    await sessions.close();
    await pool.end();
    await server.stop();
    await removeBenchDir(dir);
  }
}

function randomEmbeddings(rows: number, cols: number, shift: number, seed: number): Matrix {
  const rng = createRng(seed);
  return matrix(Float32Array.from({ length: rows * cols }, () => rng.normal() + shift), rows, cols);
}
