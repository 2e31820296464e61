import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { listEvaluations } from '../../lib/pipelines/evaluations.js';
import { loadPipelineReport } from '../../lib/report/data.js';
import { getPipelineByName } from '../../lib/pipelines/registry.js';
import { listTriggers } from '../../lib/pipelines/triggers.js';
import type { ExperimentInput } from '../../policies/experiments/schema.js';
import type { experimentWorkflow } from '../../workflows/experiment.js';
import type { TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';
import type { TestTemporal } from '../helpers/temporal.js';
import { startTestWorld, type TestWorld } from '../helpers/world.js';

const DAY = 86_400;
const FEATURES = 8;
const CLASSES = 3;

describe('experiment end to end (real Temporal dev server, PostgreSQL, ONNX Runtime)', () => {
  let temporal: TestTemporal;
  let postgres: TestPostgres;
  let root: string;
  let dataset: Dataset;
  let world: TestWorld | undefined;
  const queues = { cpu: 'exp-cpu', gpu: 'exp-gpu' };

  const experiment: ExperimentInput = {
    name: 'amounts',
    base: {
      dataset: { name: 'blobs' },
      model: { architecture: 'mlp', hidden: [8], numClasses: CLASSES },
      training: { epochs: 1, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, checkpointEvery: 10 },
      trigger: { kind: 'dataAmount', every: 200 },
      queues,
    },
    variants: {
      every200: { seeds: [1, 2] },
      every300: { overrides: { trigger: { every: 300 } }, seeds: [1, 2] },
      // The same policy on the live path: the files arrive half a second of wall time per day of sample time.
      'every200-live': { seeds: [1], replay: { speed: 2 * DAY } },
    },
    // Mid-way through the third file: each pipeline sees only its first 100 samples.
    until: { samples: 500 },
    // Every variant evaluated on the same half days, whatever its triggers.
    evaluation: { strategy: { kind: 'slicing', every: '12h' }, models: 'active' },
    concurrency: 2,
  };
  const start = () => temporal.client.workflow.start<typeof experimentWorkflow>('experimentWorkflow', {
    taskQueue: queues.cpu, workflowId: 'amounts', args: [experiment],
  });
  const rowCounts = async () => {
    const { rows } = await postgres.pool.query(
      `SELECT (SELECT count(*) FROM triggers)::int AS triggers, (SELECT count(*) FROM models)::int AS models, (SELECT count(*) FROM pipelines)::int AS pipelines`,
    );
    return rows[0];
  };

  before(async () => {
    world = await startTestWorld('experiment', queues);
    ({ temporal, postgres, root } = world);
    dataset = await registerDataset(postgres.pool, { name: 'blobs', root, format: syntheticFormat(FEATURES, CLASSES) });
    await world.runWorkers();
    for (let day = 0; day < 3; day++) {
      await writeBlobFile(root, `day-${day}.bin`, { samples: 200, features: FEATURES, numClasses: CLASSES, startTs: day * DAY, spanS: DAY, seed: day + 1 });
      assert.equal((await ingestFile(postgres.pool, dataset, `day-${day}.bin`)).status, 'ingested');
    }
  });

  after(() => world?.stop());

  it('runs every variant × seed to the same end by itself, then tabulates them and writes the comparison', async () => {
    const summary = await (await start()).result();
    assert.equal(summary.endKey, 500);
    assert.deepEqual(summary.runs.map((r) => [r.pipelineName, r.outcome]), [
      ['amounts/every200/seed-1', 'completed'], ['amounts/every200/seed-2', 'completed'],
      ['amounts/every300/seed-1', 'completed'], ['amounts/every300/seed-2', 'completed'],
      ['amounts/every200-live/seed-1', 'completed'],
    ]);
    for (const [variant, cuts] of [['every200', [[1, 200], [201, 400]]], ['every300', [[1, 300]]]] as const) {
      for (const seed of [1, 2]) {
        const pipeline = (await getPipelineByName(postgres.pool, `amounts/${variant}/seed-${seed}`))!;
        assert.deepEqual((await listTriggers(postgres.pool, pipeline.pipelineId)).map((t) => [t.firstKey, t.lastKey]), cuts);
        const evaluated = await listEvaluations(postgres.pool, pipeline.pipelineId);
        assert.equal(Math.max(...evaluated.map((e) => e.lastKey)), 500, 'the trailing interval ends at the experiment\'s end');
      }
    }

    assert.deepEqual(summary.table.map((r) => [r.variant, r.seeds, r.completed, r.failed, r.triggers?.mean]), [
      ['every200', [1, 2], 2, [], 2], ['every300', [1, 2], 2, [], 1], ['every200-live', [1], 1, [], 2],
    ]);

    // Replayed file by file into a dataset of its own, the live pipeline cuts, trains and scores exactly as the caught-up one.
    const rowsOf = async (name: string) => {
      const pipeline = (await getPipelineByName(postgres.pool, name))!;
      const evaluations = await listEvaluations(postgres.pool, pipeline.pipelineId);
      const triggers = await listTriggers(postgres.pool, pipeline.pipelineId);
      return { datasetId: pipeline.datasetId, triggers: triggers.map((t) => [t.firstKey, t.lastKey, t.numSelected]), evaluations: evaluations.map((e) => [e.modelTrigger, e.intervalId, e.numSamples, e.accuracy]) };
    };
    const live = await rowsOf('amounts/every200-live/seed-1');
    const caughtUp = await rowsOf('amounts/every200/seed-1');
    assert.notEqual(live.datasetId, dataset.id, 'the replay has a dataset of its own');
    assert.deepEqual(live.triggers, caughtUp.triggers);
    assert.deepEqual(live.evaluations, caughtUp.evaluations);
    for (const row of summary.table) {
      assert.ok(row.meanCompositeAccuracy && row.meanCompositeAccuracy.mean > 0.4 && row.meanCompositeAccuracy.std >= 0, JSON.stringify(row));
      assert.ok(row.samplesTrained!.mean > 0 && row.trainingSeconds!.mean > 0, JSON.stringify(row));
      assert.ok(row.totalSeconds!.mean >= row.trainingSeconds!.mean, JSON.stringify(row));
    }
    assert.ok(summary.report);
    await access(summary.report);

    // The table's accuracy is the shared evaluation's composite, from its rows: the same half days for every pipeline.
    const lastTs = Number((await postgres.pool.query('SELECT ts FROM samples WHERE dataset_id = $1 AND sample_key = 500', [dataset.id])).rows[0].ts);
    for (const row of summary.table) {
      const means = [];
      for (const seed of row.seeds) {
        const report = await loadPipelineReport(postgres.pool, `amounts/${row.variant}/seed-${seed}`);
        const shared = report.plans.find((p) => p.name === `amounts/${row.variant}/seed-${seed}/after-pipeline-0`)!;
        const halfDays = Array.from({ length: Math.ceil((lastTs + 1) / (DAY / 2)) }, (_, h) => [h * DAY / 2, Math.min((h + 1) * DAY / 2, lastTs + 1)]);
        assert.deepEqual(shared.intervals.map((i) => [i.startTs, i.endTs]), halfDays, 'half days up to the experiment\'s end');
        means.push(shared.meanCompositeAccuracy!);
      }
      assert.ok(Math.abs(row.meanCompositeAccuracy!.mean - means.reduce((a, b) => a + b, 0) / means.length) < 1e-12, `${row.variant}: ${means}`);
    }
  });

  it('redoes no finished pipeline when the same experiment runs again, and gives the same table', async () => {
    const first = await temporal.client.workflow.getHandle<typeof experimentWorkflow>('amounts').result();
    const before = await rowCounts();
    const again = await (await start()).result();
    assert.deepEqual(await rowCounts(), before, 'no new pipelines, triggers or models');
    assert.deepEqual(again, first);
  });
});
