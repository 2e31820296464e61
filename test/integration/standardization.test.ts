import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import type { ActivityDeps } from '../../activities/deps.js';
import { pipelineActivities, type RegisteredPipeline } from '../../activities/pipeline.js';
import { selectionActivities } from '../../activities/selection.js';
import { trainingActivities, type TrainedModel } from '../../activities/training.js';
import { registerDataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { exportInferenceModel } from '../../lib/models/export.js';
import { createModel } from '../../lib/onnx/models/zoo.js';
import { createRng } from '../../lib/rng.js';
import { readModelState } from '../../lib/train/model-state.js';
import { selectionPlan } from '../../policies/selection/plan.js';
import { parseSpec, type ModelSpec } from '../../policies/spec.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat } from '../helpers/synthetic.js';

const FEATURES = 4;
const SAMPLES = 1200;
/** Features of very different scales and offsets, as raw tabular columns are: the class is in feature 0's sign. */
const SCALES = [2000, 0.001, 50, 1];
const OFFSETS = [30_000, -5, 0, 100];

/**
 * A model with `standardize` fits each trigger's training-set statistics into its state, and the exported plain
 * ONNX model takes raw features: the real training activity, PostgreSQL and ONNX Runtime.
 */
describe('feature standardization fitted per trigger and baked into the model', () => {
  let postgres: TestPostgres;
  let root: string;
  let deps: ActivityDeps;
  const rows: number[][] = [];
  const labels: number[] = [];

  before(async () => {
    postgres = await startTestPostgres();
    root = await mkdtemp(join(tmpdir(), 'tideline-standardize-'));
    deps = { pool: postgres.pool, storeDir: join(root, '.store'), executionProvider: 'cpu' };
    const rng = createRng(3);
    const record = 12 + 4 * FEATURES;
    const buffer = Buffer.alloc(SAMPLES * record);
    for (let i = 0; i < SAMPLES; i++) {
      const z = Array.from({ length: FEATURES }, () => rng.normal());
      const label = z[0]! > 0 ? 1 : 0;
      const x = z.map((v, f) => Math.fround(OFFSETS[f]! + SCALES[f]! * v));
      rows.push(x);
      labels.push(label);
      buffer.writeInt32LE(label, i * record);
      buffer.writeBigInt64LE(BigInt(i), i * record + 4);
      x.forEach((v, f) => buffer.writeFloatLE(v, i * record + 12 + 4 * f));
    }
    await writeFile(join(root, 'all.bin'), buffer);
    const dataset = await registerDataset(postgres.pool, { name: 'scales', root, format: syntheticFormat(FEATURES, 2), holdout: { fraction: 0, seed: 0 } });
    assert.equal((await ingestFile(postgres.pool, dataset, 'all.bin')).status, 'ingested');
  });

  after(async () => {
    await postgres?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  async function train(model: ModelSpec) {
    const spec = parseSpec({
      dataset: { name: 'scales' }, model, trigger: { kind: 'dataAmount', every: SAMPLES },
      training: { epochs: 3, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, seed: 1, checkpointEvery: 0 },
    });
    const name = `p-${model.architecture}-${'standardize' in model ? model.standardize : false}`;
    const registering = new MockActivityEnvironment({ workflowExecution: { workflowId: name, runId: `${name}-run` } });
    const { pipelineId, datasetId }: RegisteredPipeline = await registering.run(pipelineActivities(deps).registerPipeline, { name, spec });
    const range = { firstKey: 1, lastKey: SAMPLES };
    await selectionActivities(deps).selectTrainingSet({ pipelineId, datasetId, triggerId: 0, trigger: range, pipelineFirstKey: 1, plan: selectionPlan(spec.selection, 0, 1) });
    const trained: TrainedModel = await new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 }).run(trainingActivities(deps).trainModel, {
      pipelineId, datasetId, triggerId: 0, model: spec.model, features: FEATURES, training: spec.training, parentModelId: null,
    });
    const { state } = await readModelState(join(deps.storeDir, trained.trainedState));
    return { state, def: createModel(spec.model, FEATURES) };
  }

  /** Accuracy of the exported model on the raw features. */
  async function exportedAccuracy({ state, def }: Awaited<ReturnType<typeof train>>): Promise<number> {
    const session = await ort.InferenceSession.create(exportInferenceModel(def, state));
    const x = new ort.Tensor('float32', Float32Array.from(rows.flat()), [SAMPLES, FEATURES]);
    const { output } = await session.run({ x }, ['output']);
    const logits = output!.data as Float32Array;
    let right = 0;
    for (let i = 0; i < SAMPLES; i++) if ((logits[2 * i + 1]! > logits[2 * i]! ? 1 : 0) === labels[i]) right++;
    await session.release();
    return right / SAMPLES;
  }

  it('stores the training set\'s mean and 1/std with the model, and the exported model needs nothing else', async () => {
    const trained = await train({ architecture: 'mlp', hidden: [16], numClasses: 2, standardize: true });
    const mean = trained.state.buffers['standardize.mean']!;
    const scale = trained.state.buffers['standardize.scale']!;
    for (let f = 0; f < FEATURES; f++) {
      const values = rows.map((r) => r[f]!);
      const m = values.reduce((a, b) => a + b, 0) / SAMPLES;
      const std = Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / SAMPLES);
      assert.ok(Math.abs(mean[f]! - m) <= 1e-5 * Math.max(1, Math.abs(m)), `feature ${f}: mean ${mean[f]} vs ${m}`);
      assert.ok(Math.abs(scale[f]! * std - 1) < 1e-4, `feature ${f}: scale ${scale[f]} vs 1/${std}`);
    }
    const accuracy = await exportedAccuracy(trained);
    assert.ok(accuracy > 0.9, `standardized accuracy ${accuracy}`);
  });

  it('fits the same statistics every time (a retried attempt trains the same model)', async () => {
    const spec: ModelSpec = { architecture: 'logisticRegression', numClasses: 2, standardize: true };
    const [a, b] = [await train(spec), await train(spec)];
    for (const name of ['standardize.mean', 'standardize.scale', 'fc.weight']) {
      assert.deepEqual(Buffer.from(a.state.buffers[name]?.buffer ?? a.state.params[name]!.buffer), Buffer.from(b.state.buffers[name]?.buffer ?? b.state.params[name]!.buffer), name);
    }
    assert.ok(await exportedAccuracy(a) > 0.9);
  });
});
