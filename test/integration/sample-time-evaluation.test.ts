import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { heldOutSql, holdoutParams } from '../../lib/data/holdout.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { listIntervalEvaluations, listPlans } from '../../lib/pipelines/evaluation-plans.js';
import { listModels } from '../../lib/pipelines/models.js';
import { listTriggers } from '../../lib/pipelines/triggers.js';
import type { PipelineSpecInput } from '../../policies/spec.js';
import type { evaluationWorkflow } from '../../workflows/evaluation.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';
import { failureMessage } from '../helpers/pipelines.js';
import type { TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';
import type { TestTemporal } from '../helpers/temporal.js';
import { startTestWorld, type TestWorld } from '../helpers/world.js';

const DAY = 86_400;
const FEATURES = 6;
const CLASSES = 3;

describe('evaluations in sample time (real Temporal dev server, PostgreSQL, ONNX Runtime)', () => {
  let temporal: TestTemporal;
  let postgres: TestPostgres;
  let root: string;
  let dataset: Dataset;
  let testSet: Dataset;
  let world: TestWorld | undefined;
  let pipelineId: number;
  const queues = { cpu: 'sample-time-cpu', gpu: 'sample-time-gpu' };

  const spec: PipelineSpecInput = {
    dataset: { name: 'stream' },
    model: { architecture: 'mlp', hidden: [8], numClasses: CLASSES },
    training: { epochs: 1, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, seed: 2 },
    // One trigger per day of 300 samples: trigger t's data is day t.
    trigger: { kind: 'dataAmount', every: 300 },
    evaluation: {
      models: 'trained',
      afterPipeline: [
        { strategy: { kind: 'slicing', every: '12h' }, models: 'matrix' },
        { strategy: 'betweenTriggers', models: 'active', dataset: 'stream-test' },
      ],
    },
    until: { key: 900 },
    queues,
  };

  /** The samples of `data` with timestamps in [start, end): only the held-out ones when `heldOut`. */
  async function count(data: Dataset, start: number, end: number, heldOut: boolean): Promise<number> {
    const [seed, threshold] = holdoutParams(data.holdout);
    const { rows } = await postgres.pool.query(
      `SELECT count(*)::int AS n FROM samples WHERE dataset_id = $1 AND ts >= $2 AND ts < $3 ${heldOut ? `AND ${heldOutSql('sample_key', '$4', '$5')}` : ''}`,
      heldOut ? [data.id, start, end, seed, threshold] : [data.id, start, end],
    );
    return rows[0].n;
  }

  before(async () => {
    world = await startTestWorld('sample-time', queues);
    ({ temporal, postgres, root } = world);
    dataset = await registerDataset(postgres.pool, { name: 'stream', root, format: syntheticFormat(FEATURES, CLASSES), holdout: { fraction: 0.2, seed: 4 } });
    testSet = await registerDataset(postgres.pool, { name: 'stream-test', root: join(root), format: syntheticFormat(FEATURES, CLASSES) });
    await world.runWorkers();
    for (let day = 0; day < 3; day++) {
      await writeBlobFile(root, `day-${day}.bin`, { samples: 300, features: FEATURES, numClasses: CLASSES, startTs: day * DAY, spanS: DAY, seed: day + 1 });
      assert.equal((await ingestFile(postgres.pool, dataset, `day-${day}.bin`)).status, 'ingested');
      await writeBlobFile(root, `test-${day}.bin`, { samples: 100, features: FEATURES, numClasses: CLASSES, startTs: day * DAY, spanS: DAY, seed: day + 11 });
      assert.equal((await ingestFile(postgres.pool, testSet, `test-${day}.bin`)).status, 'ingested');
    }
  });

  after(() => world?.stop());

  it('evaluates after the pipeline: slices of its held-out samples, and a separate test dataset between triggers', async () => {
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', { taskQueue: queues.cpu, workflowId: 'sample-time', args: [spec] });
    const summary = await handle.result();
    pipelineId = summary.pipelineId;
    const models = await listModels(postgres.pool, summary.pipelineId);
    assert.equal(models.length, 3);
    const plans = await listPlans(postgres.pool, summary.pipelineId);
    assert.deepEqual(plans.map((p) => [p.name, p.strategy.kind, p.models, p.datasetId, p.heldOut, p.intervals.length]), [
      ['sample-time/after-pipeline-0', 'slicing', 'matrix', dataset.id, true, 6],
      ['sample-time/after-pipeline-1', 'betweenTriggers', 'active', testSet.id, false, 3],
    ]);

    // Both evaluations ran at their first attempt, on the sessions the trigger matrix had left in the worker's cache.
    for (const plan of plans) {
      const history = await temporal.client.workflow.getHandle(plan.name).fetchHistory();
      const attempts = (history.events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt] : []));
      assert.deepEqual(attempts, [1, 1], `${plan.name}: planning and scoring once each`);
    }

    const slices = await listIntervalEvaluations(postgres.pool, plans[0]!.planId);
    assert.equal(slices.length, 3 * 6, 'every model on every half day');
    const triggers = await listTriggers(postgres.pool, pipelineId);
    assert.deepEqual(plans[0]!.intervals.map((i) => [i.startTs, i.endTs]), [0, 1, 2, 3, 4, 5].map((h) => [
      triggers[0]!.minTs + h * DAY / 2, Math.min(triggers[0]!.minTs + (h + 1) * DAY / 2, triggers[2]!.maxTs + 1),
    ]), 'half days from the first sample to the last');
    for (const cell of slices) {
      assert.equal(cell.numSamples, await count(dataset, cell.startTs, cell.endTs, true), `held-out samples of ${cell.startTs}`);
      assert.ok(typeof cell.metrics.accuracy === 'number' && cell.metrics.accuracy >= 0 && cell.metrics.accuracy <= 1);
    }

    // Between triggers on the test set: each interval's serving model (none for the first) and its trained one.
    const onTestSet = await listIntervalEvaluations(postgres.pool, plans[1]!.planId);
    assert.deepEqual(onTestSet.map((c) => `${c.modelTrigger}/${c.intervalId}`), ['0/0', '0/1', '1/1', '1/2', '2/2']);
    for (const cell of onTestSet) assert.equal(cell.numSamples, await count(testSet, cell.startTs, cell.endTs, false));
    assert.equal(onTestSet.reduce((n, c) => n + (c.modelTrigger === c.intervalId ? c.numSamples : 0), 0), 300, 'all test samples, each interval once');
  });

  it('evaluates a finished pipeline on demand, as `tide evaluate` does; a retried plan keeps its cells', async () => {
    const start = (workflowId: string, request: unknown) => temporal.client.workflow.execute<typeof evaluationWorkflow>('evaluationWorkflow', {
      taskQueue: queues.cpu, workflowId,
      args: [{ pipelineId, request: request as never, metrics: [{ kind: 'accuracy', topK: 1 }], queues }],
    });
    const planned = await start('sample-time/evaluation-1', { strategy: { kind: 'offset', offsets: ['-1d', '0', '+1d'] } });
    assert.deepEqual([planned.intervals, planned.cells], [9, 9]);
    const cells = await listIntervalEvaluations(postgres.pool, planned.planId);
    const triggers = await listTriggers(postgres.pool, pipelineId);
    assert.deepEqual(cells.map((c) => [c.modelTrigger, c.startTs, c.endTs]), triggers.flatMap((t) => [
      [t.triggerId, t.minTs - DAY, t.minTs], [t.triggerId, t.minTs, t.maxTs + 1], [t.triggerId, t.maxTs + 1, t.maxTs + 1 + DAY],
    ]));
    assert.equal(cells[0]!.numSamples, 0, 'nothing before the first day');
    assert.equal(cells.at(-1)!.numSamples, 0, 'nothing after the last day');
    assert.equal(cells[1]!.numSamples, await count(dataset, 0, DAY, true));

    const again = await start('sample-time/evaluation-1b', { strategy: { kind: 'offset', offsets: ['-1d', '0', '+1d'] } });
    assert.notEqual(again.planId, planned.planId, 'each evaluation is its own plan');
    assert.deepEqual((await listIntervalEvaluations(postgres.pool, again.planId)).map((c) => c.metrics), cells.map((c) => c.metrics), 'the same scores');

    await assert.rejects(start('sample-time/evaluation-2', { strategy: 'betweenTriggers', dataset: 'no-such-set' }), (err: unknown) => {
      assert.match(failureMessage(err), /evaluation dataset "no-such-set" does not exist/);
      return true;
    });
  });
});
