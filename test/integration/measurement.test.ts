/**
 * Measurements for model-aware triggers on a real PostgreSQL, real dataset files and real ONNX Runtime sessions:
 * sample windows, embedding drift, performance, failures, and the sessions kept between calls. The activity
 * functions run in a MockActivityEnvironment (they heartbeat), without a Temporal server.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import type { MeasureRequest, MeasureResult } from '../../policies/triggers/protocol.js';
import { measurementActivities, type MeasureArgs } from '../../activities/measurement.js';
import type { Batch } from '../../lib/data/batch.js';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { findNewFiles, ingestFiles } from '../../lib/data/ingest.js';
import { keyedBatches } from '../../lib/data/loader.js';
import { dataTime, windowKeys } from '../../lib/data/windows.js';
import { evaluateModel } from '../../lib/eval/evaluate.js';
import { embeddingMatrix } from '../../lib/eval/model-outputs.js';
import { ModelSessions } from '../../lib/eval/model-sessions.js';
import { ModelStore } from '../../lib/models/store.js';
import { createModel } from '../../lib/onnx/models/zoo.js';
import type { OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { upsertModel } from '../../lib/pipelines/models.js';
import { upsertPipeline } from '../../lib/pipelines/registry.js';
import { createRng } from '../../lib/rng.js';
import { initModelState, writeModelState, type ModelState } from '../../lib/train/model-state.js';
import { trainModel } from '../../lib/train/trainer.js';
import type { ModelSpec } from '../../policies/spec.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat } from '../helpers/synthetic.js';

const FEATURES = 8;
const CLASSES = 4;
const FILE_SAMPLES = 600;
const T0 = 1_700_000_000;
const SPEC: ModelSpec = { architecture: 'mlp', hidden: [16], numClasses: CLASSES };
const OPTIMIZER: OptimizerConfig = { name: 'adam', lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
const POLICY = 'trigger.members.drift';

/**
 * Gaussian blobs (class c centred at 2 on the features f with f % CLASSES = c), every feature moved by `shift`;
 * sample i has label i % CLASSES and timestamp startTs + i.
 */
async function writeBlobs(dir: string, name: string, opts: { startTs: number; seed: number; shift: number; samples?: number }): Promise<string> {
  const samples = opts.samples ?? FILE_SAMPLES;
  const rng = createRng(opts.seed);
  const recordSize = 12 + 4 * FEATURES;
  const buffer = Buffer.alloc(samples * recordSize);
  for (let i = 0; i < samples; i++) {
    const at = i * recordSize;
    buffer.writeInt32LE(i % CLASSES, at);
    buffer.writeBigInt64LE(BigInt(opts.startTs + i), at + 4);
    for (let f = 0; f < FEATURES; f++) {
      buffer.writeFloatLE((f % CLASSES === i % CLASSES ? 2 : 0) + opts.shift + 0.7 * rng.normal(), at + 12 + 4 * f);
    }
  }
  await writeFile(path.join(dir, name), buffer);
  return name;
}

async function collect(batches: AsyncIterable<Batch>): Promise<Batch[]> {
  const all: Batch[] = [];
  for await (const b of batches) all.push(b);
  return all;
}

let db: TestPostgres;
let dir: string;
let dataset: Dataset;
let pipelineId: number;
let store: ModelStore;
/** The trained model, a model whose file is gone, and a model whose weights are NaN. */
let modelId: number;
let missingModelId: number;
let nanModelId: number;
let sessions: ModelSessions;
let activities: ReturnType<typeof measurementActivities>;
let heartbeats = 0;

/** An activity context whose failures are not logged: the tests check them. */
const activityEnvironment = () => new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });

/** Runs an activity function as Temporal would, counting its heartbeats. */
async function inActivity(fn: (args: MeasureArgs) => Promise<MeasureResult>, request: MeasureRequest): Promise<MeasureResult> {
  const env = activityEnvironment();
  env.on('heartbeat', () => heartbeats++);
  return env.run(fn, { pipelineId, datasetId: dataset.id, policy: POLICY, request });
}

/** The inference graph the store published for a trigger's model. */
const modelFile = (triggerId: number) => store.resolve(path.join('models', String(pipelineId), `trigger-${triggerId}`, 'model.onnx'));

async function publish(triggerId: number, state: ModelState): Promise<number> {
  const def = createModel(SPEC, FEATURES);
  const trained = path.join(store.runDir(pipelineId, triggerId), 'final.state');
  await mkdir(path.dirname(store.resolve(trained)), { recursive: true });
  await writeModelState(store.resolve(trained), state);
  const files = await store.publish(pipelineId, triggerId, def, trained);
  return upsertModel(db.pool, pipelineId, {
    triggerId, parentModelId: null, architecture: { ...SPEC, features: FEATURES }, ...files,
    numSamples: FILE_SAMPLES, trainingMs: 0, finalLoss: null,
  });
}

before(async () => {
  [db, dir] = await Promise.all([startTestPostgres(), mkdtemp(path.join(os.tmpdir(), 'tideline-measurement-'))]);
  const root = path.join(dir, 'data');
  await mkdir(root, { recursive: true });
  // Keys 1–600 and 601–1200: one distribution; 1201–1800: shifted; 1801–1900: old timestamps, ingested last.
  await writeBlobs(root, 'a.bin', { startTs: T0, seed: 1, shift: 0 });
  await writeBlobs(root, 'b.bin', { startTs: T0 + 600, seed: 2, shift: 0 });
  await writeBlobs(root, 'c.bin', { startTs: T0 + 1200, seed: 3, shift: 1.5 });
  dataset = await registerDataset(db.pool, { name: 'measured', root, format: syntheticFormat(FEATURES, CLASSES) });
  // One file at a time, so that their keys follow in this order.
  for (const file of ['a.bin', 'b.bin', 'c.bin']) await ingestFiles(db.pool, dataset, [file]);
  await writeBlobs(root, 'd.bin', { startTs: T0, seed: 4, shift: 0, samples: 100 });
  await ingestFiles(db.pool, dataset, await findNewFiles(db.pool, dataset));
  pipelineId = (await upsertPipeline(db.pool, 'measured', 'run-1', dataset.id, {})).pipelineId;

  store = new ModelStore(path.join(dir, 'store'));
  const def = createModel(SPEC, FEATURES);
  const keys = Float64Array.from({ length: FILE_SAMPLES }, (_, i) => i + 1);
  const batches = await collect(keyedBatches(db.pool, dataset, { keys, batchSize: 50 }));
  const { state } = await trainModel({
    model: def, optimizer: OPTIMIZER, state: initModelState(def, OPTIMIZER, 1), checkpointEvery: 0,
    batches: (async function* () { for (let epoch = 0; epoch < 5; epoch++) for (const b of batches) yield { ...b, x: b.x.slice(), w: b.w.slice() }; })(),
  });
  modelId = await publish(1, state);
  missingModelId = await publish(2, state);
  await rm(modelFile(2));
  const poisoned = initModelState(def, OPTIMIZER, 1);
  poisoned.params['fc1.weight']!.fill(Number.NaN);
  nanModelId = await publish(3, poisoned);

  sessions = new ModelSessions({ idleMs: 0 });
  activities = measurementActivities({ pool: db.pool, storeDir: store.root, executionProvider: 'cpu' }, sessions);
});

after(async () => {
  await sessions?.close();
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
});

const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

describe('sample windows', () => {
  it('hold the keys of their range, narrowed to the last samples or the last seconds of sample time', async () => {
    assert.deepEqual([...await windowKeys(db.pool, dataset.id, { firstKey: 1, lastKey: 600 })], range(1, 600));
    assert.deepEqual([...await windowKeys(db.pool, dataset.id, { firstKey: 1001, lastKey: 1900, lastSamples: 10 })], range(1891, 1900));
    // The newest timestamp of [1001, 1900] is T0 + 1799 (key 1800): the later keys 1801–1900 are older samples.
    assert.deepEqual([...await windowKeys(db.pool, dataset.id, { firstKey: 1001, lastKey: 1900, lastSeconds: 50 })], range(1750, 1800));
    assert.deepEqual([...await windowKeys(db.pool, dataset.id, { firstKey: 1, lastKey: 1200, lastSeconds: 10, lastSamples: 5 })], range(1196, 1200));
    assert.deepEqual([...await windowKeys(db.pool, dataset.id, { firstKey: 5000, lastKey: 6000 })], []);
    await assert.rejects(windowKeys(db.pool, dataset.id, { firstKey: 10, lastKey: 5 }), /window.lastKey 5 is before window.firstKey 10/);
    await assert.rejects(windowKeys(db.pool, dataset.id, { firstKey: 1, lastKey: 5, lastSamples: 0 }), /window.lastSamples must be an integer >= 1, got 0/);
  });

  it('subsample uniformly within the window, the same keys for the same seed', async () => {
    const window = { firstKey: 201, lastKey: 1400 };
    const first = await windowKeys(db.pool, dataset.id, window, { size: 300, seed: 7 });
    assert.equal(first.length, 300);
    assert.ok(first.every((k, i) => k >= 201 && k <= 1400 && (i === 0 || k > first[i - 1]!)), 'ascending keys within the window');
    assert.deepEqual(first, await windowKeys(db.pool, dataset.id, window, { size: 300, seed: 7 }));
    const other = new Set(await windowKeys(db.pool, dataset.id, window, { size: 300, seed: 8 }));
    assert.ok([...first].filter((k) => other.has(k)).length < 150, 'another seed draws other keys');
    // Uniform: each third of the window gets about a third of the subsample.
    for (const lo of [201, 601, 1001]) {
      const share = first.filter((k) => k >= lo && k < lo + 400).length;
      assert.ok(share > 70 && share < 130, `${share} of 300 keys in [${lo}, ${lo + 399}]`);
    }
    assert.deepEqual([...await windowKeys(db.pool, dataset.id, { ...window, lastSamples: 20 }, { size: 50, seed: 7 })], range(1381, 1400));
  });

  it('read their samples in key order', async () => {
    const keys = Float64Array.of(3, 4, 598, 1203, 1899);
    const [batch] = await collect(keyedBatches(db.pool, dataset, { keys, batchSize: 10 }));
    assert.equal(batch!.size, 5);
    // Sample i of a file has label i % 4 and files hold multiples of 4 samples, so key k has label (k − 1) % 4.
    assert.deepEqual([...batch!.y], [...keys].map((k) => (k - 1) % CLASSES));
    await assert.rejects(collect(keyedBatches(db.pool, dataset, { keys: Float64Array.of(5, 7000), batchSize: 10 })), /holds no sample with key 7000/);
  });

  it('sum sample times over a key range', async () => {
    const expected = { count: 600, minTs: T0, maxTs: T0 + 599, sumTs: 600 * T0 + (599 * 600) / 2 };
    assert.deepEqual(await dataTime(db.pool, dataset.id, { firstKey: 1, lastKey: 600 }), expected);
    assert.deepEqual(await inActivity(activities.measureData, { kind: 'dataTime', range: { firstKey: 1, lastKey: 600 } }), { kind: 'dataTime', ...expected });
  });
});

describe('measureModel', () => {
  const drift = (current: { firstKey: number; lastKey: number }) => inActivity(activities.measureModel, {
    kind: 'embeddingDrift', modelId, seed: 5, sampleSize: 400,
    reference: { firstKey: 1, lastKey: 600 }, current,
    metrics: [
      { kind: 'mmd' }, { kind: 'ks', correction: 'bonferroni', pValue: 0.05 }, { kind: 'cvm', correction: 'fdr', pValue: 0.05 },
      { kind: 'hellinger', bins: 10 }, { kind: 'meanDistance' },
    ],
  });

  it('scores a shifted window as drifting, and a window of the same distribution as not', async () => {
    heartbeats = 0;
    const same = await drift({ firstKey: 601, lastKey: 1200 });
    assert.ok(heartbeats > 0, 'heartbeats while measuring');
    const shifted = await drift({ firstKey: 1201, lastKey: 1800 });
    for (const result of [same, shifted]) {
      assert.equal(result.kind, 'embeddingDrift');
      assert.equal(result.kind === 'embeddingDrift' && `${result.referenceCount}/${result.currentCount}`, '400/400');
    }
    const scores = (r: MeasureResult) => (r.kind === 'embeddingDrift' ? r.metrics : []);
    for (const [i, metric] of scores(shifted).entries()) {
      const baseline = scores(same)[i]!;
      assert.equal(metric.kind, baseline.kind);
      assert.ok(metric.score > 2 * Math.max(baseline.score, 1e-3), `${metric.kind}: shifted ${metric.score} vs same ${baseline.score}`);
      if (metric.kind === 'ks' || metric.kind === 'cvm') {
        assert.equal(metric.drift, true, `${metric.kind} flags the shifted window`);
        assert.equal(baseline.drift, false, `${metric.kind} does not flag the window of the same distribution`);
        assert.ok(metric.pValue! < baseline.pValue!, `${metric.kind} p-values`);
      }
    }
  });

  it('counts performance as a direct evaluation of the same samples does', async () => {
    const window = { firstKey: 1101, lastKey: 1500 };
    const result = await inActivity(activities.measureModel, { kind: 'performance', modelId, window });
    assert.equal(result.kind, 'performance');
    if (result.kind !== 'performance') return;
    const keys = await windowKeys(db.pool, dataset.id, window);
    const bytes = await readFile(modelFile(1));
    const direct = await evaluateModel(bytes, keyedBatches(db.pool, dataset, { keys, batchSize: 64 }));
    assert.equal(result.count, direct.count);
    assert.equal(result.count, 400);
    assert.equal(result.correct, Math.round(direct.accuracy * direct.count));
    assert.ok(Math.abs(result.accuracy - direct.accuracy) < 1e-12);

    // Macro F1 from the bare session's predictions.
    const session = await ort.InferenceSession.create(bytes);
    const confusion = Array.from({ length: CLASSES }, () => new Array<number>(CLASSES).fill(0));
    for (const b of await collect(keyedBatches(db.pool, dataset, { keys, batchSize: 400 }))) {
      const { output } = await session.run({ x: new ort.Tensor('float32', b.x, [b.size, FEATURES]) });
      const logits = output!.data as Float32Array;
      for (let r = 0; r < b.size; r++) {
        const row = Array.from(logits.subarray(r * CLASSES, (r + 1) * CLASSES));
        confusion[b.y[r]!]![row.indexOf(Math.max(...row))]!++;
      }
    }
    await session.release();
    const f1 = confusion.map((row, c) => {
      const predictedAs = confusion.reduce((n, r) => n + r[c]!, 0);
      const labelled = row.reduce((n, v) => n + v, 0);
      return labelled + predictedAs === 0 ? undefined : (2 * row[c]!) / (labelled + predictedAs);
    }).filter((v): v is number => v !== undefined);
    assert.ok(Math.abs(result.macroF1 - f1.reduce((a, b) => a + b, 0) / f1.length) < 1e-12, `macroF1 ${result.macroF1}`);
    assert.ok(result.accuracy > 0.6, `accuracy ${result.accuracy}`);
  });

  it('keeps the model\'s session between calls', async () => {
    const before = { ...sessions.stats };
    await inActivity(activities.measureModel, { kind: 'performance', modelId, window: { firstKey: 1, lastKey: 100 } });
    assert.equal(sessions.stats.loads, before.loads, 'no new session');
    assert.equal(sessions.stats.hits, before.hits + 1);
    assert.ok(sessions.has(modelId));
    assert.equal(sessions.size, 1);
  });

  const failure = async (request: MeasureRequest): Promise<ApplicationFailure> => {
    const err = await inActivity(activities.measureModel, request).then(() => assert.fail('measurement succeeded'), (e: unknown) => e);
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'MeasurementFailed');
    assert.equal(err.nonRetryable, true);
    return err;
  };

  it('fails for good, naming the policy, the keys and the cause, when the model file is missing', async () => {
    const err = await failure({ kind: 'performance', modelId: missingModelId, window: { firstKey: 1, lastKey: 600, lastSamples: 100 } });
    assert.match(err.message, /^trigger\.members\.drift: performance of model \d+ on keys \[1, 600\], last 100 samples: /);
    assert.match(err.message, /trigger-2\/model\.onnx/);
    assert.match(err.message, /ENOENT/);
    assert.ok(!sessions.has(missingModelId), 'a failed load leaves no session behind');
  });

  it('fails for good on a NaN embedding, naming the sample and the model', async () => {
    const err = await failure({
      kind: 'embeddingDrift', modelId: nanModelId, seed: 1, metrics: [{ kind: 'meanDistance' }],
      reference: { firstKey: 1, lastKey: 600 }, current: { firstKey: 601, lastKey: 1200 },
    });
    assert.match(err.message, /reference keys \[1, 600\] and current keys \[601, 1200\]/);
    assert.match(err.message, new RegExp(`model ${nanModelId}: embedding of sample key \\d+ is NaN`));
  });

  it('fails for good on an empty window, a model of another pipeline or a dataset that is gone', async () => {
    let err = await failure({ kind: 'performance', modelId, window: { firstKey: 5000, lastKey: 6000 } });
    assert.match(err.message, /the performance window \(keys \[5000, 6000\]\) holds no samples/);
    err = await failure({ kind: 'performance', modelId: 9999, window: { firstKey: 1, lastKey: 10 } });
    assert.match(err.message, new RegExp(`model 9999 is not a model of pipeline ${pipelineId}`));
    const args: MeasureArgs = { pipelineId, datasetId: 9999, policy: POLICY, request: { kind: 'performance', modelId, window: { firstKey: 1, lastKey: 10 } } };
    err = await activityEnvironment().run(activities.measureModel, args).then(() => assert.fail('measurement succeeded'), (e: ApplicationFailure) => e);
    assert.match(err.message, /dataset 9999 no longer exists/);
  });
});

describe('model sessions', () => {
  const load = async () => ({
    bytes: await readFile(modelFile(1)),
    def: createModel(SPEC, FEATURES),
  });

  it('release the least recently used session beyond capacity', async () => {
    const cache = new ModelSessions({ capacity: 2, idleMs: 0 });
    try {
      for (const id of [1, 2, 1, 3]) await cache.use(id, load, async (m) => assert.equal(m.modelId, id));
      assert.deepEqual([1, 2, 3].map((id) => cache.has(id)), [true, false, true]);
      assert.deepEqual(cache.stats, { hits: 1, loads: 3, evictions: 1 });
      // A session in use is not released, however many others open meanwhile.
      await cache.use(1, load, async () => {
        for (const id of [4, 5]) await cache.use(id, load, async () => {});
        assert.ok(cache.has(1));
      });
      assert.equal(cache.size, 2);
    } finally {
      await cache.close();
    }
  });

  it('close when idle and start again on the next use', async () => {
    const cache = new ModelSessions({ idleMs: 30 });
    try {
      await cache.use(1, load, async () => {});
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(cache.size, 0);
      const embedded = await cache.use(1, load, (m) => embeddingMatrix(m, keyedBatches(db.pool, dataset, { keys: Float64Array.of(1, 2, 3), batchSize: 2 })));
      assert.deepEqual([embedded.rows, embedded.cols], [3, 16]);
    } finally {
      await cache.close();
    }
  });

  it('refuse a graph whose inputs are not its definition\'s', async () => {
    const cache = new ModelSessions({ idleMs: 0 });
    const wrong = async () => ({ ...(await load()), def: { ...createModel(SPEC, FEATURES), inputs: [{ name: 'pixels', dtype: 'float32' as const, shape: ['B', FEATURES] }] } });
    try {
      await assert.rejects(cache.use(1, wrong, async () => {}), /model 1: the graph's inputs \(x\) are not the definition's \(pixels\)/);
      assert.equal(cache.size, 0);
    } finally {
      await cache.close();
    }
  });
});
