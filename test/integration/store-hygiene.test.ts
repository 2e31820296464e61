import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ActivityDeps } from '../../activities/deps.js';
import { modelActivities, type StoreModelArgs } from '../../activities/models.js';
import { pipelineActivities, type RegisteredPipeline } from '../../activities/pipeline.js';
import { selectionActivities } from '../../activities/selection.js';
import { trainingActivities, type TrainArgs, type TrainedModel } from '../../activities/training.js';
import { collectGarbage } from '../../cli/commands/gc.js';
import { registerDataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { ModelStore } from '../../lib/models/store.js';
import { listModels } from '../../lib/pipelines/models.js';
import { parseSpec } from '../../policies/spec.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';

const FEATURES = 8;
const TRIGGERS = 3;
const PER_TRIGGER = 200;

/** Every file under `dir`, store-relative. */
async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/** Trains and stores models with the real activities, then checks the store holds each state once and `tide gc`'s logic. */
describe('model store hygiene', () => {
  let postgres: TestPostgres;
  let root: string;
  let deps: ActivityDeps;
  let store: ModelStore;
  let pipelineId: number;
  const stored: { args: StoreModelArgs; modelId: number }[] = [];

  before(async () => {
    postgres = await startTestPostgres();
    root = await mkdtemp(join(tmpdir(), 'tideline-hygiene-'));
    deps = { pool: postgres.pool, storeDir: join(root, '.store'), executionProvider: 'cpu' };
    store = new ModelStore(deps.storeDir);
    const dataset = await registerDataset(postgres.pool, { name: 'hygiene', root, format: syntheticFormat(FEATURES, 3) });
    await writeBlobFile(root, 'all.bin', { samples: TRIGGERS * PER_TRIGGER, features: FEATURES, numClasses: 3, startTs: 0, spanS: 600, seed: 2 });
    assert.equal((await ingestFile(postgres.pool, dataset, 'all.bin')).status, 'ingested');
    const spec = parseSpec({
      dataset: { name: 'hygiene' },
      model: { architecture: 'mlp', hidden: [16], numClasses: 3 },
      training: { epochs: 1, batchSize: 32, optimizer: { name: 'adam', lr: 0.01 }, seed: 7, checkpointEvery: 2, initialization: 'finetune' },
      trigger: { kind: 'dataAmount', every: PER_TRIGGER },
    });
    const registering = new MockActivityEnvironment({ workflowExecution: { workflowId: 'hygiene', runId: 'hygiene-run' } });
    const registered: RegisteredPipeline = await registering.run(pipelineActivities(deps).registerPipeline, { name: 'hygiene', spec });
    pipelineId = registered.pipelineId;
    let parentModelId: number | null = null;
    for (let triggerId = 0; triggerId < TRIGGERS; triggerId++) {
      const range = { firstKey: triggerId * PER_TRIGGER + 1, lastKey: (triggerId + 1) * PER_TRIGGER };
      await selectionActivities(deps).selectTrainingSet({
        pipelineId, datasetId: registered.datasetId, triggerId, trigger: range, ranges: [range],
      });
      const args: TrainArgs = {
        pipelineId, datasetId: registered.datasetId, triggerId, model: spec.model, features: FEATURES, training: spec.training, parentModelId,
      };
      const trained: TrainedModel = await new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 }).run(trainingActivities(deps).trainModel, args);
      const storeArgs: StoreModelArgs = {
        pipelineId, triggerId, parentModelId, model: spec.model, features: FEATURES, trainedState: trained.trainedState,
        numSamples: trained.samples, trainingMs: trained.trainingMs, finalLoss: trained.finalLoss,
      };
      const { modelId }: { modelId: number } = await new MockActivityEnvironment().run(modelActivities(deps).storeModel, storeArgs);
      stored.push({ args: storeArgs, modelId });
      parentModelId = modelId;
    }
  });

  after(async () => {
    await postgres?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('stores each model\'s state once and leaves no run folder behind', async () => {
    const expected = Array.from({ length: TRIGGERS }, (_, t) => [`models/${pipelineId}/trigger-${t}/model.onnx`, `models/${pipelineId}/trigger-${t}/state.bin`]).flat();
    assert.deepEqual(await filesUnder(deps.storeDir), expected.sort());
  });

  it('a retried store succeeds from the moved state and changes nothing', async () => {
    const before = await listModels(postgres.pool, pipelineId);
    const last = stored.at(-1)!;
    const { modelId }: { modelId: number } = await new MockActivityEnvironment().run(modelActivities(deps).storeModel, last.args);
    assert.equal(modelId, last.modelId);
    assert.deepEqual(await listModels(postgres.pool, pipelineId), before);
  });

  it('gc deletes the files of models beyond the last N, keeps their parents, and marks the rows', async () => {
    const options = { keep: 1, runningPipelines: new Set<number>() };
    const [first, second] = await listModels(postgres.pool, pipelineId);
    const sizes = await Promise.all([first!.onnxPath, first!.statePath].map((p) => store.fileSize(p)));

    const dry = await collectGarbage(postgres.pool, store, { ...options, dryRun: true });
    assert.deepEqual(dry.map((d) => d.triggerId), [0], 'trigger 1 is the parent of the kept trigger 2');
    assert.equal((await filesUnder(deps.storeDir)).length, 2 * TRIGGERS, 'a dry run deletes nothing');

    const deleted = await collectGarbage(postgres.pool, store, { ...options, dryRun: false });
    assert.deepEqual(deleted, [{ modelId: first!.modelId, pipelineId, triggerId: 0, bytes: sizes[0]! + sizes[1]! }]);
    assert.ok(!(await filesUnder(deps.storeDir)).some((f) => f.includes('trigger-0/')));
    const models = await listModels(postgres.pool, pipelineId);
    assert.ok(models[0]!.deletedAt instanceof Date);
    assert.equal(models[1]!.deletedAt, null);
    assert.equal(second!.modelId, models[2]!.parentModelId);

    assert.deepEqual(await collectGarbage(postgres.pool, store, { ...options, dryRun: false }), [], 'a second run finds nothing');
  });
});
