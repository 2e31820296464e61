import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ActivityDeps } from '../../activities/deps.js';
import { modelActivities } from '../../activities/models.js';
import { pipelineActivities, type RegisteredPipeline } from '../../activities/pipeline.js';
import { selectionActivities } from '../../activities/selection.js';
import { trainingActivities, type TrainArgs, type TrainedModel } from '../../activities/training.js';
import { pipelineReport } from '../../cli/report.js';
import { registerDataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { getModel } from '../../lib/pipelines/models.js';
import { divergenceWarning } from '../../lib/train/divergence.js';
import { readModelStateExtra } from '../../lib/train/model-state.js';
import { parseSpec, type PipelineSpecInput } from '../../policies/spec.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { createRng } from '../../lib/rng.js';
import { syntheticFormat } from '../helpers/synthetic.js';

const FEATURES = 8;
const CLASSES = 3;
const SAMPLES = 300;

/** Gaussian features with random labels: no model fits them, so a huge step leaves huge losses, not a lucky zero. */
async function writeNoiseFile(file: string): Promise<void> {
  const rng = createRng(5);
  const { recordSize } = syntheticFormat(FEATURES, CLASSES);
  const buffer = Buffer.alloc(SAMPLES * recordSize);
  for (let i = 0; i < SAMPLES; i++) {
    buffer.writeInt32LE(rng.int(CLASSES), i * recordSize);
    buffer.writeBigInt64LE(BigInt(i), i * recordSize + 4);
    for (let f = 0; f < FEATURES; f++) buffer.writeFloatLE(rng.normal(), i * recordSize + 12 + 4 * f);
  }
  await writeFile(file, buffer);
}

describe('divergenceWarning', () => {
  it('flags a final loss over 10× the first step’s, not noise around a tiny loss', () => {
    assert.match(divergenceWarning(1.1, 1.4e12)!, /^loss diverged: final loss 1\.40e\+12 is over 10× the first step's 1\.10$/);
    assert.equal(divergenceWarning(1.1, 0.3), undefined);
    assert.equal(divergenceWarning(1.1, 10.9), undefined);
    assert.equal(divergenceWarning(0.001, 0.05), undefined, 'tiny losses are compared against 0.1');
    assert.equal(divergenceWarning(undefined, 5), undefined, 'no step, no verdict');
  });
});

/**
 * A trigger trained at lr 1e12 with the real training and storing activities (MockActivityEnvironment),
 * PostgreSQL and ONNX Runtime: its model is stored with a warning that `tide status` shows, or, with
 * training.failOnDivergence, the trigger fails with a non-retryable 'Diverged'.
 */
describe('a diverged trigger is flagged, or failed with training.failOnDivergence', () => {
  let postgres: TestPostgres;
  let root: string;
  let deps: ActivityDeps;

  /** Registers a pipeline with `training` overrides and selects its trigger 0 training set. */
  async function trigger(name: string, training: Partial<PipelineSpecInput['training']>): Promise<TrainArgs> {
    const spec = parseSpec({
      dataset: { name: 'diverging' },
      model: { architecture: 'mlp', hidden: [16], numClasses: CLASSES },
      training: { epochs: 2, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, seed: 7, checkpointEvery: 0, ...training },
      trigger: { kind: 'dataAmount', every: SAMPLES },
    });
    const registering = new MockActivityEnvironment({ workflowExecution: { workflowId: name, runId: `${name}-run` } });
    const { pipelineId, datasetId }: RegisteredPipeline = await registering.run(pipelineActivities(deps).registerPipeline, { name, spec });
    const range = { firstKey: 1, lastKey: SAMPLES };
    await selectionActivities(deps).selectTrainingSet({ pipelineId, datasetId, triggerId: 0, trigger: range, ranges: [range] });
    return { pipelineId, datasetId, triggerId: 0, model: spec.model, features: FEATURES, training: spec.training, parentModelId: null };
  }

  async function trainAndStore(args: TrainArgs) {
    const trained: TrainedModel = await new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 }).run(trainingActivities(deps).trainModel, args);
    const { modelId }: { modelId: number } = await new MockActivityEnvironment().run(modelActivities(deps).storeModel, {
      pipelineId: args.pipelineId, triggerId: 0, parentModelId: null, model: args.model, features: FEATURES,
      trainedState: trained.trainedState, numSamples: trained.samples, trainingMs: trained.trainingMs, finalLoss: trained.finalLoss,
    });
    return { trained, model: (await getModel(postgres.pool, modelId))! };
  }

  before(async () => {
    postgres = await startTestPostgres();
    root = await mkdtemp(join(tmpdir(), 'tideline-divergence-'));
    deps = { pool: postgres.pool, storeDir: join(root, '.store'), executionProvider: 'cpu' };
    const dataset = await registerDataset(postgres.pool, { name: 'diverging', root, format: syntheticFormat(FEATURES, CLASSES) });
    await writeNoiseFile(join(root, 'all.bin'));
    assert.equal((await ingestFile(postgres.pool, dataset, 'all.bin')).status, 'ingested');
  });

  after(async () => {
    await postgres?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  // Clipping keeps every step finite (lr × norm 1), so the loss ends huge (about 1e12) rather than NaN.
  it('stores a model trained at lr 1e12 with a warning, shown next to its final loss', async () => {
    const args = await trigger('huge-lr', { optimizer: { name: 'sgd', lr: 1e12, clipGradNorm: 1 } });
    const { trained, model } = await trainAndStore(args);
    assert.ok(Number.isFinite(trained.finalLoss) && trained.finalLoss > 1e3, `final loss ${trained.finalLoss}`);
    assert.match(model.warning ?? '', /^loss diverged: final loss .* is over 10× the first step's /);
    assert.equal((await readModelStateExtra(join(deps.storeDir, model.statePath))).warning, model.warning);
    const report = await pipelineReport(postgres.pool, args.pipelineId);
    assert.ok(report.includes(`${model.finalLoss!.toFixed(3)} ⚠`), report);
    assert.ok(report.includes(`⚠ trigger 0: ${model.warning}`), report);
  });

  it('stores a model trained at a sane lr without a warning', async () => {
    const { model } = await trainAndStore(await trigger('sane-lr', {}));
    assert.equal(model.warning, null);
  });

  it('fails the trigger with a non-retryable Diverged under training.failOnDivergence', async () => {
    const args = await trigger('fail-on-divergence', { optimizer: { name: 'sgd', lr: 1e12, clipGradNorm: 1 }, failOnDivergence: true });
    await assert.rejects(
      new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 }).run(trainingActivities(deps).trainModel, args),
      (e: unknown) => e instanceof ApplicationFailure && e.type === 'Diverged' && e.nonRetryable && /^trigger 0: loss diverged: .*lower training\.optimizer\.lr/.test(e.message),
    );
  });
});
