import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { RetryState } from '@temporalio/common';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { listModels } from '../../lib/pipelines/models.js';
import type { PipelineSpecInput } from '../../policies/spec.js';
import { newDataSignal, statusQuery } from '../../workflows/messages.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';
import { waitFor } from '../helpers/pipelines.js';
import type { TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';
import type { TestTemporal } from '../helpers/temporal.js';
import { startTestWorld, type TestWorld } from '../helpers/world.js';

const FEATURES = 8;
const CLASSES = 3;

/**
 * A deterministic failure in each kind of activity (training, storage, evaluation) ends the pipeline with its
 * cause after one attempt, instead of being retried: real dev server, PostgreSQL and ONNX Runtime. Each test
 * has a timeout, so a regression fails it rather than waiting out the retry policy.
 */
describe('deterministic failures end a pipeline with their cause', () => {
  let temporal: TestTemporal;
  let postgres: TestPostgres;
  let root: string;
  let storeDir: string;
  let world: TestWorld | undefined;
  const queues = { cpu: 'bounded-cpu', gpu: 'bounded-gpu' };

  const spec = (dataset: string): PipelineSpecInput => ({
    dataset: { name: dataset },
    model: { architecture: 'mlp', hidden: [8], numClasses: CLASSES },
    training: { epochs: 1, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, initialization: 'scratch' },
    trigger: { kind: 'dataAmount', every: 300 },
    queues,
  });

  /** A dataset of its own folder, and a function that writes and ingests its next 300-sample file. */
  async function datasetNamed(name: string): Promise<{ dataset: Dataset; addFile: (k: number) => Promise<void> }> {
    const dir = join(root, name);
    await mkdir(dir, { recursive: true });
    const dataset = await registerDataset(postgres.pool, { name, root: dir, format: syntheticFormat(FEATURES, CLASSES) });
    const addFile = async (k: number) => {
      await writeBlobFile(dir, `part-${k}.bin`, { samples: 300, features: FEATURES, numClasses: CLASSES, startTs: k * 300, spanS: 300, seed: k + 1 });
      assert.equal((await ingestFile(postgres.pool, dataset, `part-${k}.bin`)).status, 'ingested');
    };
    return { dataset, addFile };
  }

  function start(workflowId: string, dataset: string) {
    return temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', { taskQueue: queues.cpu, workflowId, args: [spec(dataset)] });
  }

  /** The pipeline fails; `activity` of trigger `triggerId` failed once with a non-retryable `type` whose message matches. */
  async function assertFailsOnce(workflowId: string, triggerId: number, activity: string, type: string, message: RegExp) {
    const handle = temporal.client.workflow.getHandle(workflowId);
    const err = await handle.result().then(() => assert.fail(`${workflowId} completed`), (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    const chain: unknown[] = [];
    for (let e: unknown = err.cause; e instanceof Error; e = e.cause) chain.push(e);
    const activityFailure = chain.find((e): e is ActivityFailure => e instanceof ActivityFailure);
    const cause = chain.find((e): e is ApplicationFailure => e instanceof ApplicationFailure);
    assert.ok(activityFailure && cause, `${workflowId}: ${chain.map(String).join(' <- ')}`);
    assert.equal(activityFailure.activityType, activity);
    assert.equal(activityFailure.retryState, RetryState.NON_RETRYABLE_FAILURE);
    assert.equal(cause.type, type);
    assert.ok(cause.nonRetryable);
    assert.match(cause.message, message);

    // The history records the attempt an activity ended on: the first.
    const history = await temporal.client.workflow.getHandle(`${workflowId}/trigger-${triggerId}`).fetchHistory();
    const attempts = history.events!.flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt] : []));
    assert.ok(history.events!.some((e) => e.activityTaskFailedEventAttributes), `${workflowId}/trigger-${triggerId} has no failed activity`);
    assert.ok(attempts.length > 0 && attempts.every((attempt) => attempt === 1), `attempts ${attempts.join(', ')}`);
  }

  before(async () => {
    world = await startTestWorld('bounded', queues);
    ({ temporal, postgres, root } = world);
    storeDir = join(root, '.store');
    await world.runWorkers(storeDir);
  });

  after(() => world?.stop());

  it('training: a dataset file removed after ingestion', { timeout: 120_000 }, async () => {
    const { addFile } = await datasetNamed('removed');
    await addFile(0);
    await rm(join(root, 'removed', 'part-0.bin'));
    await start('removed-file', 'removed');
    await assertFailsOnce('removed-file', 0, 'trainModel', 'InvalidData', /^trigger 0: training: part-0\.bin: no such file in the dataset root/);
  });

  it('storage: the model store path of the pipeline is a file, not a folder', { timeout: 120_000 }, async () => {
    const { dataset, addFile } = await datasetNamed('blocked');
    const handle = await start('blocked-store', 'blocked');
    const { pipelineId } = await waitFor('registration', async () => {
      const status = await handle.query(statusQuery);
      return status.pipelineId === undefined ? undefined : status;
    });
    await mkdir(join(storeDir, 'models'), { recursive: true });
    await writeFile(join(storeDir, 'models', String(pipelineId)), 'in the way');
    await addFile(0);
    await handle.signal(newDataSignal, { datasetId: dataset.id });
    await assertFailsOnce('blocked-store', 0, 'storeModel', 'StorageFailed', /^trigger 0: storing the model: ENOTDIR: not a directory/);
  });

  it('evaluation: an earlier model\'s graph removed from the model store', { timeout: 120_000 }, async () => {
    const { dataset, addFile } = await datasetNamed('evicted');
    await addFile(0);
    const handle = await start('evicted-model', 'evicted');
    const { pipelineId } = await waitFor('the first trigger', async () => {
      const status = await handle.query(statusQuery);
      return status.triggers === 1 && status.current === 'waiting for data' ? status : undefined;
    });
    const [first] = await listModels(postgres.pool, pipelineId!);
    await rm(join(storeDir, first!.onnxPath));
    // The gpu worker keeps the sessions of models it evaluated alive until it has been idle for 10 s: past that,
    // the next evaluation must read the removed file.
    await new Promise((r) => setTimeout(r, 11_000));
    await addFile(1);
    await handle.signal(newDataSignal, { datasetId: dataset.id });
    await assertFailsOnce(
      'evicted-model', 1, 'evaluateModels', 'EvaluationFailed',
      /^pipeline \d+: evaluating the cells of trigger 1: ENOENT: no such file or directory, open '.*model\.onnx'/,
    );
  });
});
