/**
 * What evaluation costs, each figure measured in the same run:
 * - `eval_ratio`: held-out batches scored through lib/eval/score-models.ts (the cached session in the host's worker
 *   thread, the next batch posted while the metrics read the last one) with the default metrics, ÷ a bare
 *   onnxruntime session loop on the main thread over the same in-memory batches fetching `output`, in samples/s;
 *   `eval_ratio_all_metrics`: the same with every metric. Rounds interleave the passes, each round in another order.
 *   Two more figures per round tell where the difference goes: the same hosted session fed as scoreModels feeds it
 *   but without metrics (the cost of the worker thread and the hand-offs) and the metrics alone on outputs computed beforehand
 *   (their main-thread time, which the pipelining can hide only while it is shorter than a run).
 * - `matrix_<T>_s`: the whole evaluation matrix of a T-trigger pipeline through the `evaluateModels` activity, as
 *   the trigger workflows call it (scope { afterTrigger: t } for t = 0…T−1 in order), on a throwaway PostgreSQL:
 *   T intervals of about `heldOut` held-out samples each, T stored models (one initialised state published T
 *   times, as the timing does not depend on the weights). Includes the first call's session host start.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { chmod, mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type pg from 'pg';
import { evaluationActivities, type EvaluationSummary } from '../activities/evaluation.js';
import type { Batch } from '../lib/data/batch.js';
import { parseDatasetConfig } from '../lib/data/dataset-config.js';
import { registerDataset } from '../lib/data/datasets.js';
import { ingestFiles } from '../lib/data/ingest.js';
import { startEmbeddedPostgres } from '../lib/db/embedded.js';
import { migrate } from '../lib/db/migrate.js';
import { createPool } from '../lib/db/pool.js';
import { defaultMetricSpecs, type MetricSpec } from '../policies/evaluation/metric-specs.js';
import { createMetrics } from '../lib/eval/metrics/index.js';
import { inferenceBatchSize } from '../lib/eval/model-outputs.js';
import { ModelSessions, type LoadedModel } from '../lib/eval/model-sessions.js';
import { scoreModels } from '../lib/eval/score-models.js';
import { exportInferenceModel } from '../lib/models/export.js';
import { ModelStore } from '../lib/models/store.js';
import { inputFeeds } from '../lib/onnx/batch-feeds.js';
import { createModel } from '../lib/onnx/models/zoo.js';
import { DEFAULT_SESSION_OPTIONS } from '../lib/onnx/session-host.js';
import { listEvaluations } from '../lib/pipelines/evaluations.js';
import { upsertModel } from '../lib/pipelines/models.js';
import { upsertPipeline } from '../lib/pipelines/registry.js';
import { recordTrigger } from '../lib/pipelines/triggers.js';
import { initModelState, writeModelState } from '../lib/train/model-state.js';
import type { ModelSpec } from '../policies/spec.js';
import { round, spread, timedMs } from './rounds.js';
import { bareLoop, fresh, randomBatches, recordFormat, writeSamples } from './synthetic-samples.js';
import { OPTIMIZER } from './train.js';
import { removeBenchDir } from './remove-bench-dir.js';

export interface EvaluationBenchOptions {
  /** Samples of each throughput pass. */
  samples: number;
  /** Samples per inference run, of the throughput passes and the matrix; absent: what evaluation picks by default. */
  batchSize?: number;
  rounds: number;
  /** Triggers (intervals and models) of the pipeline whose matrix is evaluated. */
  triggers: number;
  /** Held-out samples per interval, about: each interval has heldOut / HOLDOUT.fraction samples. */
  heldOut: number;
  log?: (line: string) => void;
}

const CLASSES = 10;
/** The throughput passes' model: a zoo MLP on MNIST-sized inputs. */
const THROUGHPUT_FEATURES = 784;
const THROUGHPUT_SPEC: ModelSpec = { architecture: 'mlp', hidden: [256], numClasses: CLASSES };
/** The matrix's model: a small MLP, so that the matrix shows the activity's per-cell cost more than inference. */
const MATRIX_FEATURES = 32;
const MATRIX_SPEC: ModelSpec = { architecture: 'mlp', hidden: [64], numClasses: CLASSES };
/** The spec's default hold-out. */
const HOLDOUT = { fraction: 0.1, seed: 0 };

/** One metric of every kind, and top-5 accuracy (its own ranking loop). */
export const ALL_METRIC_SPECS: MetricSpec[] = [
  { kind: 'accuracy', topK: 1 }, { kind: 'accuracy', topK: 5 }, { kind: 'loss' },
  { kind: 'precision', average: 'macro' }, { kind: 'recall', average: 'macro' }, { kind: 'f1', average: 'macro' },
  { kind: 'rocAuc' }, { kind: 'confusionMatrix' },
];

/** The whole benchmark; the matrix runs in a temp dir with its own PostgreSQL, both removed afterwards. */
export async function benchEvaluation(opts: EvaluationBenchOptions) {
  const log = opts.log ?? (() => {});
  const throughput = await benchThroughput(opts, log);
  const matrix = await benchMatrix(opts, log);
  // Named after the trigger count: matrix_50_s by default.
  const matrixSeconds: Record<`matrix_${number}_s`, number> = { [`matrix_${opts.triggers}_s`]: matrix.seconds };
  return Object.assign({
    benchmark: 'evaluation',
    eval_ratio: throughput.defaultMetrics.ratio.median,
    eval_ratio_all_metrics: throughput.allMetrics.ratio.median,
  }, matrixSeconds, { throughput, matrix });
}

type Pass = 'bare' | 'hosted' | 'defaultMetrics' | 'allMetrics';
const PASSES: Pass[] = ['bare', 'hosted', 'defaultMetrics', 'allMetrics'];

async function benchThroughput(opts: EvaluationBenchOptions, log: (line: string) => void) {
  const def = createModel(THROUGHPUT_SPEC, THROUGHPUT_FEATURES);
  const onnx = exportInferenceModel(def, initModelState(def, OPTIMIZER, 1));
  const load = async (): Promise<LoadedModel> => ({ bytes: onnx, def });
  const sessions = new ModelSessions({ idleMs: 0 });
  const bare = await ort.InferenceSession.create(onnx, DEFAULT_SESSION_OPTIONS);
  try {
    const batches = randomBatches(opts.samples, THROUGHPUT_FEATURES, opts.batchSize ?? inferenceBatchSize(THROUGHPUT_FEATURES), CLASSES, 5);
    const score = (copies: AsyncIterable<Batch>, specs: readonly MetricSpec[]) =>
      sessions.use(0, load, (model) => scoreModels([{ session: model, outputSize: def.outputSize }], copies, specs));
    // The hosted session fed as scoreModels feeds it (each batch transferred, the next run posted before the last
    // one's output is awaited), with no metrics: what the worker thread and the hand-offs cost.
    const hostedLoop = (copies: Batch[]) => sessions.use(0, load, async (model) => {
      let last: Promise<unknown> | undefined;
      for (const b of copies) {
        const run = model.session.run(inputFeeds(b, model.inputs), { fetch: ['output'], transfer: true });
        await last;
        last = run;
      }
      await last;
    });
    const timed: Record<Pass, () => Promise<number>> = {
      bare: () => timedMs(() => bareLoop(bare, batches, 'output')),
      hosted: () => {
        const copies = batches.map((b) => ({ ...b, x: b.x.slice() }));
        return timedMs(() => hostedLoop(copies));
      },
      defaultMetrics: () => {
        const copies = fresh(batches);
        return timedMs(() => score(copies, defaultMetricSpecs));
      },
      allMetrics: () => {
        const copies = fresh(batches);
        return timedMs(() => score(copies, ALL_METRIC_SPECS));
      },
    };
    // The outputs, once, for timing the metrics alone.
    const outputs: Float32Array[] = [];
    for (const b of batches) outputs.push((await bare.run({ x: new ort.Tensor('float32', b.x, [b.size, b.features]) }, ['output'])).output!.data as Float32Array);
    const metricsAlone = (specs: readonly MetricSpec[]) => timedMs(async () => {
      const set = createMetrics(specs, { numClasses: CLASSES, loss: def.loss });
      batches.forEach((b, i) => set.update(outputs[i]!, b.y, b.size, CLASSES));
      set.results();
    });

    // One unmeasured pass of each warms the sessions and compiles the metrics' loops.
    for (const pass of PASSES) await timed[pass]();
    const seconds: Record<Pass, number[]> = { bare: [], hosted: [], defaultMetrics: [], allMetrics: [] };
    const metricsMs = { defaultMetrics: [] as number[], allMetrics: [] as number[] };
    for (let r = 0; r < opts.rounds; r++) {
      // Each round starts with another pass, so none always runs first (or right after the same one).
      for (const pass of [...PASSES.slice(r % PASSES.length), ...PASSES.slice(0, r % PASSES.length)]) seconds[pass].push(await timed[pass]() / 1000);
      metricsMs.defaultMetrics.push(await metricsAlone(defaultMetricSpecs));
      metricsMs.allMetrics.push(await metricsAlone(ALL_METRIC_SPECS));
      const [bareS, hostedS, defaultS, allS] = PASSES.map((p) => seconds[p][r]!) as [number, number, number, number];
      log(`round ${r + 1}: eval ratio ${(bareS / defaultS).toFixed(3)}, all metrics ${(bareS / allS).toFixed(3)}, hosted loop ${(bareS / hostedS).toFixed(3)}`);
    }
    const perS = (pass: Pass) => spread(seconds[pass].map((s) => opts.samples / s), 0);
    const ratios = (pass: Pass, base: Pass) => spread(seconds[pass].map((s, r) => seconds[base][r]! / s), 3);
    const scored = (pass: 'defaultMetrics' | 'allMetrics') => ({
      ratio: ratios(pass, 'bare'),
      samplesPerS: perS(pass),
      /** ÷ the hosted session's bare loop: what scoreModels adds to the host's runs. */
      ratioVsHostedLoop: ratios(pass, 'hosted'),
      /** The metrics alone over one pass's outputs, on the main thread. */
      metricsMs: spread(metricsMs[pass], 1),
      metrics: metricNames(pass === 'allMetrics' ? ALL_METRIC_SPECS : defaultMetricSpecs),
    });
    return {
      model: `mlp ${THROUGHPUT_FEATURES}-256-${CLASSES}`, batchSize: opts.batchSize ?? inferenceBatchSize(THROUGHPUT_FEATURES), samples: opts.samples, rounds: opts.rounds,
      bareSamplesPerS: perS('bare'),
      /** The hosted session fed as scoreModels feeds it, without metrics, ÷ the main-thread loop: the worker thread's share. */
      hostedLoop: { ratio: ratios('hosted', 'bare'), samplesPerS: perS('hosted') },
      defaultMetrics: scored('defaultMetrics'),
      allMetrics: scored('allMetrics'),
    };
  } finally {
    await bare.release();
    await sessions.close();
  }
}

function metricNames(specs: readonly MetricSpec[]): string[] {
  return createMetrics(specs, { numClasses: CLASSES, loss: 'softmax-ce' }).metrics.map((m) => m.name);
}

async function benchMatrix(opts: EvaluationBenchOptions, log: (line: string) => void) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-bench-evaluation-'));
  // As root, the server runs as `postgres` and must be able to enter the dir.
  await chmod(dir, 0o755);
  const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), settings: { autovacuum: 'off' } });
  const pool = createPool(server.url);
  const sessions = new ModelSessions({ idleMs: 0 });
  try {
    await migrate(pool);
    const { pipelineId, datasetId, storeDir, intervalSamples } = await matrixPipeline(pool, dir, opts, log);
    const { evaluateModels } = evaluationActivities({ pool, storeDir, executionProvider: 'cpu' }, sessions);
    const env = new MockActivityEnvironment();
    const callMs: number[] = [];
    let cells = 0;
    for (let t = 0; t < opts.triggers; t++) {
      let summary: EvaluationSummary | undefined;
      callMs.push(await timedMs(async () => {
        summary = await env.run(evaluateModels, {
          pipelineId, datasetId, scope: { afterTrigger: t }, batchSize: opts.batchSize, metrics: defaultMetricSpecs,
        });
      }));
      cells += summary!.cells;
      if ((t + 1) % 10 === 0) log(`evaluated after trigger ${t}: ${cells} cells so far, this call ${callMs.at(-1)!.toFixed(0)} ms`);
    }
    const seconds = callMs.reduce((a, b) => a + b, 0) / 1000;
    const evaluations = await listEvaluations(pool, pipelineId);
    const scoredSamples = evaluations.reduce((sum, e) => sum + e.numSamples, 0);
    return {
      triggers: opts.triggers, model: `mlp ${MATRIX_FEATURES}-64-${CLASSES}`, metrics: metricNames(defaultMetricSpecs),
      seconds: round(seconds, 2), cells, storedCells: evaluations.length, cellsPerS: round(cells / seconds, 1),
      samplesPerInterval: intervalSamples, heldOutPerCell: round(scoredSamples / Math.max(1, evaluations.length), 1),
      scoredSamplesPerS: round(scoredSamples / seconds, 0),
      firstCallMs: round(callMs[0]!, 1), lastCallMs: round(callMs.at(-1)!, 1),
      sessions: { ...sessions.stats },
    };
  } finally {
    await sessions.close();
    await pool.end();
    await server.stop();
    await removeBenchDir(dir);
  }
}

/** A pipeline with `triggers` trigger rows over consecutive key ranges of one ingested file, and a stored model for each. */
async function matrixPipeline(pool: pg.Pool, dir: string, opts: EvaluationBenchOptions, log: (line: string) => void) {
  const intervalSamples = Math.max(1, Math.round(opts.heldOut / HOLDOUT.fraction));
  const root = path.join(dir, 'data');
  await mkdir(root, { recursive: true });
  log(`writing and ingesting ${opts.triggers} intervals × ${intervalSamples} samples of ${MATRIX_FEATURES} features`);
  await writeSamples(root, 'samples.bin', { samples: opts.triggers * intervalSamples, features: MATRIX_FEATURES, numClasses: CLASSES, shift: 0, seed: 1 });
  const dataset = await registerDataset(pool, parseDatasetConfig({ name: 'bench-evaluation', root, format: recordFormat(MATRIX_FEATURES, CLASSES), holdout: HOLDOUT }));
  await ingestFiles(pool, dataset, ['samples.bin']);
  // One file, one transaction: its keys are consecutive.
  const { rows } = await pool.query<{ first: string }>('SELECT min(sample_key) AS first FROM samples WHERE dataset_id = $1', [dataset.id]);
  const firstKey = Number(rows[0]!.first);

  const { pipelineId } = await upsertPipeline(pool, 'bench-evaluation', 'bench', dataset.id, {});
  const store = new ModelStore(path.join(dir, 'store'));
  const def = createModel(MATRIX_SPEC, MATRIX_FEATURES);
  const state = initModelState(def, OPTIMIZER, 1);
  for (let t = 0; t < opts.triggers; t++) {
    const range = { firstKey: firstKey + t * intervalSamples, lastKey: firstKey + (t + 1) * intervalSamples - 1 };
    await recordTrigger(pool, pipelineId, dataset.id, t, range, 'bench');
    // Each trigger's run leaves its own final state, which publishing moves into the model's folder.
    const trained = path.join(store.runDir(pipelineId, t), 'final.state');
    await writeModelState(store.resolve(trained), state);
    const files = await store.publish(pipelineId, t, def, trained);
    await upsertModel(pool, pipelineId, {
      triggerId: t, parentModelId: null, architecture: { ...MATRIX_SPEC, features: MATRIX_FEATURES }, ...files, numSamples: 0, trainingMs: 0, finalLoss: null,
    });
  }
  return { pipelineId, datasetId: dataset.id, storeDir: store.root, intervalSamples };
}
