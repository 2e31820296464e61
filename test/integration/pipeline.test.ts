import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseDatasetConfig } from '../../lib/data/dataset-config.js';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { listEvaluations } from '../../lib/pipelines/evaluations.js';
import { listModels } from '../../lib/pipelines/models.js';
import { getPipelineByName } from '../../lib/pipelines/registry.js';
import { listTriggers } from '../../lib/pipelines/triggers.js';
import type { PipelineSpecInput } from '../../policies/spec.js';
import { newDataSignal, statusQuery, stopSignal } from '../../workflows/messages.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';
import { failureMessage, stopAfterTriggers, waitFor } from '../helpers/pipelines.js';
import type { TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile, writeCriteoFile } from '../helpers/synthetic.js';
import type { TestTemporal } from '../helpers/temporal.js';
import { startTestWorld, type TestWorld } from '../helpers/world.js';

const DAY = 86_400;
const FEATURES = 12;
const CLASSES = 4;

describe('pipeline end to end (real Temporal dev server, PostgreSQL, ONNX Runtime)', () => {
  let temporal: TestTemporal;
  let postgres: TestPostgres;
  let root: string;
  let dataset: Dataset;
  let world: TestWorld | undefined;
  const queues = { cpu: 'e2e-cpu', gpu: 'e2e-gpu' };

  const spec = (overrides: Partial<PipelineSpecInput> = {}): PipelineSpecInput => ({
    dataset: { name: 'blobs' },
    model: { architecture: 'mlp', hidden: [16], numClasses: CLASSES },
    training: { epochs: 2, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, seed: 3, checkpointEvery: 10 },
    trigger: { kind: 'dataAmount', every: 400 },
    queues,
    ...overrides,
  });

  before(async () => {
    // A low threshold makes the server suggest continue-as-new every few events, so every pipeline
    // here also proves that its state survives continue-as-new.
    world = await startTestWorld('e2e', queues, { 'limit.historyCount.suggestContinueAsNew': 30 });
    ({ temporal, postgres, root } = world);
    dataset = await registerDataset(postgres.pool, { name: 'blobs', root, format: syntheticFormat(FEATURES, CLASSES) });
    await world.runWorkers();
    for (let day = 0; day < 4; day++) {
      await writeBlobFile(root, `day-${day}.bin`, { samples: 300, features: FEATURES, numClasses: CLASSES, startTs: day * DAY, spanS: DAY, seed: day + 1 });
    }
  });

  after(() => world?.stop());

  it('catches up on data committed before it started, follows signals, trains and evaluates every trigger', async () => {
    for (const file of ['day-0.bin', 'day-1.bin']) assert.equal((await ingestFile(postgres.pool, dataset, file)).status, 'ingested');
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'amount-pipeline', args: [spec()],
    });
    for (const file of ['day-2.bin', 'day-3.bin']) {
      const outcome = await ingestFile(postgres.pool, dataset, file);
      assert.equal(outcome.status, 'ingested');
      if (outcome.status === 'ingested') await handle.signal(newDataSignal, { datasetId: dataset.id });
    }
    const status = await waitFor('three triggers', async () => {
      const s = await handle.query(statusQuery);
      return s.triggers === 3 && s.current === 'waiting for data' ? s : undefined;
    });
    assert.equal(status.samplesSeen, 1200);
    assert.equal(status.models, 3);
    assert.ok(status.lastAccuracy! > 0.7, `accuracy ${status.lastAccuracy}`);

    await handle.signal(stopSignal);
    const summary = await handle.result();
    assert.deepEqual([summary.triggers, summary.models, summary.samplesSeen, summary.lastKey], [3, 3, 1200, 1200]);

    const triggers = await listTriggers(postgres.pool, summary.pipelineId);
    assert.deepEqual(triggers.map((t) => [t.firstKey, t.lastKey, t.numNew]), [[1, 400, 400], [401, 800, 400], [801, 1200, 400]]);
    const models = await listModels(postgres.pool, summary.pipelineId);
    assert.deepEqual(models.map((m) => m.parentModelId), [null, models[0].modelId, models[1].modelId]);
    for (const t of triggers) assert.ok(t.numSelected! > 300 && t.numSelected! < 400, `selected ${t.numSelected}: holdout removed`);
    const evaluations = await listEvaluations(postgres.pool, summary.pipelineId);
    assert.equal(evaluations.length, 9, 'a full 3×3 evaluation matrix');
    assert.ok(evaluations.every((e) => e.numSamples > 0 && e.accuracy! > 0.5));
  });

  it('evaluates every pipeline over a dataset on the same held-out samples, whatever its seed', async () => {
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'other-seed',
      args: [spec({ training: { epochs: 1, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, seed: 11, checkpointEvery: 10 } })],
    });
    const summary = await stopAfterTriggers(handle, 3);
    const first = (await getPipelineByName(postgres.pool, 'amount-pipeline'))!.pipelineId;
    const cells = async (pipelineId: number) => (await listEvaluations(postgres.pool, pipelineId)).map((e) => [e.modelTrigger, e.intervalId, e.numSamples]);
    assert.deepEqual(await cells(summary.pipelineId), await cells(first));
    const selected = async (pipelineId: number) => (await listTriggers(postgres.pool, pipelineId)).map((t) => t.numSelected);
    assert.deepEqual(await selected(summary.pipelineId), await selected(first));
  });

  it('evaluates only the composite models’ cells with evaluation.models active, and records evaluation time', async () => {
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'active-only',
      args: [spec({ evaluation: { models: 'active' }, training: { epochs: 1, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, seed: 3, checkpointEvery: 10 } })],
    });
    const summary = await stopAfterTriggers(handle, 3);
    const cells = (await listEvaluations(postgres.pool, summary.pipelineId)).map((e) => `${e.modelTrigger}/${e.intervalId}`).sort();
    assert.deepEqual(cells, ['0/0', '0/1', '1/1', '1/2', '2/2'], 'each interval by the model serving it and the one trained on it');
    const { rows } = await postgres.pool.query('SELECT scope, cells, evaluation_ms FROM evaluation_runs WHERE pipeline_id = $1 ORDER BY scope', [summary.pipelineId]);
    assert.deepEqual(rows.map((r) => [r.scope, r.cells]), [['after:0', 1], ['after:1', 2], ['after:2', 2]]);
    assert.ok(rows.every((r) => r.evaluation_ms > 0));
  });

  it('refuses to start again under the name of a finished pipeline, leaving its rows alone', async () => {
    const before = await listTriggers(postgres.pool, (await getPipelineByName(postgres.pool, 'amount-pipeline'))!.pipelineId);
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'amount-pipeline', args: [spec({ trigger: { kind: 'dataAmount', every: 100 } })],
    });
    const err = await handle.result().then(() => undefined, (e: unknown) => e);
    assert.match(failureMessage(err), /a pipeline named "amount-pipeline" already exists from an earlier run/);
    const after = await listTriggers(postgres.pool, (await getPipelineByName(postgres.pool, 'amount-pipeline'))!.pipelineId);
    assert.deepEqual(after, before);
  });

  it('splits files at time boundaries and draws on all data so far (late start, after continue-as-new)', async () => {
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'time-pipeline',
      args: [spec({ trigger: { kind: 'time', every: '12h' }, selection: { window: { kind: 'allData' } }, training: { epochs: 1, batchSize: 64, optimizer: { name: 'adam', lr: 0.01 }, initialization: 'scratch' } })],
    });
    const summary = await stopAfterTriggers(handle, 7);
    const triggers = await listTriggers(postgres.pool, summary.pipelineId);
    // Every half day of 150 samples is one trigger; the last half day is the trailing interval.
    assert.deepEqual(triggers.map((t) => [t.firstKey, t.lastKey]), Array.from({ length: 7 }, (_, k) => [150 * k + 1, 150 * (k + 1)]));
    assert.ok(triggers.every((t, k) => t.numSelected! > 130 * (k + 1)), 'all data so far, less the holdout');
    const models = await listModels(postgres.pool, summary.pipelineId);
    assert.ok(models.every((m) => m.parentModelId === null), 'trained from scratch');
    const evaluations = await listEvaluations(postgres.pool, summary.pipelineId);
    assert.equal(evaluations.length, 7 * 8, 'every model on every interval, the trailing one included');
    const description = await handle.describe();
    assert.notEqual(description.runId, handle.firstExecutionRunId, 'the pipeline continued as new at least once');
  });

  it('trains the zoo model the spec names: a ResNet whose BatchNorm statistics travel through store and evaluation', async () => {
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'resnet-pipeline',
      args: [spec({
        model: { architecture: 'resnet', numClasses: CLASSES, inputShape: [3, 2, 2], widths: [8], blocksPerStage: 1 },
        training: { epochs: 2, batchSize: 32, optimizer: { name: 'adamw', lr: 0.01, weightDecay: 0.01 }, schedule: { kind: 'cosine', totalSteps: 30, warmupSteps: 3 } },
        trigger: { kind: 'dataAmount', every: 600 },
      })],
    });
    const summary = await stopAfterTriggers(handle, 2);
    assert.equal(summary.models, 2);
    const models = await listModels(postgres.pool, summary.pipelineId);
    assert.ok(models.every((m) => (m.architecture as { architecture: string }).architecture === 'resnet'));
    const evaluations = await listEvaluations(postgres.pool, summary.pipelineId);
    assert.equal(evaluations.length, 4);
    assert.ok(evaluations.every((e) => e.accuracy! > 0.6), evaluations.map((e) => e.accuracy).join(', '));
  });

  it('trains a DLRM on Criteo-layout records, hashing raw categorical ids into its tables', async () => {
    const criteoRoot = join(root, 'criteo');
    await mkdir(criteoRoot, { recursive: true });
    const criteo = await registerDataset(postgres.pool, parseDatasetConfig({ name: 'criteo', root: criteoRoot, format: { preset: 'criteo' } }));
    for (const [i, file] of ['a.bin', 'b.bin'].entries()) {
      await writeCriteoFile(criteoRoot, file, { samples: 800, seed: i + 7 });
      assert.equal((await ingestFile(postgres.pool, criteo, file)).status, 'ingested');
    }
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'dlrm-pipeline',
      args: [spec({
        dataset: { name: 'criteo' },
        model: { architecture: 'dlrm', vocabSize: 64, embeddingDim: 4, bottom: [16, 4], top: [16] },
        training: { epochs: 6, batchSize: 64, optimizer: { name: 'adam', lr: 0.01 } },
        trigger: { kind: 'dataAmount', every: 800 },
      })],
    });
    const summary = await stopAfterTriggers(handle, 2);
    assert.equal(summary.models, 2);
    const evaluations = await listEvaluations(postgres.pool, summary.pipelineId);
    assert.equal(evaluations.length, 4);
    // Clicks follow the first id's parity or a large first count: about 60% of samples are clicks, so a
    // model that learned the parity through its hashed table scores well above that.
    assert.ok(evaluations.every((e) => e.accuracy! > 0.72), evaluations.map((e) => e.accuracy).join(', '));
  });

  it('refuses a DLRM on a dataset that is not binary or has no categorical ids, naming model.architecture', async () => {
    await registerDataset(postgres.pool, { name: 'pairs', root, format: syntheticFormat(FEATURES, 2) });
    for (const [name, message] of [
      ['blobs', /model\.architecture: dlrm is a binary \(click\) model, but dataset "blobs" has 4 classes/],
      ['pairs', /model\.architecture: dlrm needs categorical ids/],
    ] as const) {
      const refused = temporal.client.workflow.execute('pipelineWorkflow', {
        taskQueue: queues.cpu, workflowId: `dlrm-on-${name}`, args: [spec({ dataset: { name }, model: { architecture: 'dlrm' } })],
      });
      await assert.rejects(refused, (err: unknown) => {
        assert.match(failureMessage(err), message);
        return true;
      });
    }
  });

  it('fails at once when the model does not fit the dataset, naming model.inputShape', async () => {
    const misfit = temporal.client.workflow.execute('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'misfit-model',
      args: [spec({ model: { architecture: 'cnn', numClasses: CLASSES, inputShape: [1, 28, 28] } })],
    });
    await assert.rejects(misfit, (err: unknown) => {
      assert.match(failureMessage(err), /model\.inputShape: \[1, 28, 28\] holds 784 values, but the dataset's samples have 12 features/);
      return true;
    });
  });

  it('fails at once, naming the field, on an invalid spec or an unknown dataset', async () => {
    const invalid = temporal.client.workflow.execute('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'invalid-spec', args: [{ ...spec(), training: { optimizer: { name: 'sgd', lr: -1 } } }],
    });
    await assert.rejects(invalid, (err: unknown) => {
      assert.match(failureMessage(err), /training\.optimizer\.lr/);
      return true;
    });
    const unknown = temporal.client.workflow.execute('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'unknown-dataset', args: [{ ...spec(), dataset: { name: 'nope' } }],
    });
    await assert.rejects(unknown, (err: unknown) => {
      assert.match(failureMessage(err), /dataset\.name: no dataset named "nope"/);
      return true;
    });
  });
});
