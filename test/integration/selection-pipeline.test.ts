import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { listEvaluations } from '../../lib/pipelines/evaluations.js';
import { listModels } from '../../lib/pipelines/models.js';
import { listTriggers } from '../../lib/pipelines/triggers.js';
import type { PipelineSpecInput } from '../../policies/spec.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';
import { stopAfterTriggers } from '../helpers/pipelines.js';
import type { TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';
import type { TestTemporal } from '../helpers/temporal.js';
import { startTestWorld, type TestWorld } from '../helpers/world.js';

const DAY = 86_400;
const FEATURES = 12;
const CLASSES = 4;
const EPOCHS = 2;

describe('selection policies in pipelines (real Temporal dev server, PostgreSQL, ONNX Runtime)', () => {
  let temporal: TestTemporal;
  let postgres: TestPostgres;
  let root: string;
  let dataset: Dataset;
  let world: TestWorld | undefined;
  const queues = { cpu: 'selection-cpu', gpu: 'selection-gpu' };

  const spec = (selection: PipelineSpecInput['selection']): PipelineSpecInput => ({
    dataset: { name: 'blobs' },
    model: { architecture: 'mlp', hidden: [16], numClasses: CLASSES },
    training: { epochs: EPOCHS, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, seed: 3, checkpointEvery: 5 },
    trigger: { kind: 'dataAmount', every: 400 },
    selection,
    queues,
  });

  /** Runs a pipeline over the 1200 samples to its third trigger; returns its rows. */
  async function run(id: string, selection: PipelineSpecInput['selection']) {
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', { taskQueue: queues.cpu, workflowId: id, args: [spec(selection)] });
    const summary = await stopAfterTriggers(handle, 3);
    const { pipelineId } = summary;
    const [triggers, models, evaluations] = await Promise.all([
      listTriggers(postgres.pool, pipelineId), listModels(postgres.pool, pipelineId), listEvaluations(postgres.pool, pipelineId),
    ]);
    return { pipelineId, triggers, models, evaluations };
  }

  before(async () => {
    world = await startTestWorld('selection', queues);
    ({ temporal, postgres, root } = world);
    dataset = await registerDataset(postgres.pool, { name: 'blobs', root, format: syntheticFormat(FEATURES, CLASSES) });
    await world.runWorkers();
    for (let day = 0; day < 3; day++) {
      await writeBlobFile(root, `day-${day}.bin`, { samples: 400, features: FEATURES, numClasses: CLASSES, startTs: day * DAY, spanS: DAY, seed: day + 1 });
      assert.equal((await ingestFile(postgres.pool, dataset, `day-${day}.bin`)).status, 'ingested');
    }
  });

  after(() => world?.stop());

  it('presamples all data in SQL, then trains batch-then-sample on the picks of each scored batch', async () => {
    const { triggers, models, evaluations } = await run('bts-loss', {
      window: { kind: 'allData' },
      presampling: { strategy: 'random', ratio: 0.5 },
      downsampling: { strategy: 'loss', ratio: 0.25 },
    });
    assert.equal(models.length, 3);
    triggers.forEach((t, i) => {
      assert.ok(t.numWindow! > 300 * (i + 1) && t.numWindow! <= 400 * (i + 1), `window ${t.numWindow}`);
      assert.equal(t.numSelected, Math.floor(t.numWindow! / 2));
      const model = models[i]!;
      // Each step loads 128 samples, scores them, and trains on 32.
      assert.equal(model.numScored, EPOCHS * t.numSelected!);
      const full = Math.floor(t.numSelected! / 128);
      const last = t.numSelected! - full * 128;
      assert.equal(model.numSamples, EPOCHS * (full * 32 + (last > 0 ? Math.max(1, Math.round(last * 0.25)) : 0)));
      assert.ok(model.scoringMs > 0 && model.scoringMs <= model.trainingMs);
    });
    const own = evaluations.filter((e) => e.modelTrigger === e.intervalId);
    assert.ok(own.every((e) => e.accuracy! > 0.6), `accuracies ${own.map((e) => e.accuracy)}`);
  });

  it('trains sample-then-batch on the samples each scoring round picked, rescoring every period epochs', async () => {
    const { pipelineId, triggers, models, evaluations } = await run('stb-kcenter', {
      downsampling: { strategy: 'kCenterGreedy', ratio: 0.3, mode: 'sampleThenBatch', period: 1 },
    });
    const { rows } = await postgres.pool.query(
      'SELECT trigger_id, round, count(*)::int AS n, min(weight) AS w FROM downsampled_samples WHERE pipeline_id = $1 GROUP BY 1, 2 ORDER BY 1, 2',
      [pipelineId],
    );
    assert.deepEqual(rows.map((r) => [r.trigger_id, r.round]), [[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1]]);
    triggers.forEach((t, i) => {
      const rounds = rows.filter((r) => r.trigger_id === t.triggerId);
      for (const r of rounds) assert.equal(r.n, Math.round(t.numSelected! * 0.3));
      assert.equal(models[i]!.numScored, EPOCHS * t.numSelected!);
      assert.equal(models[i]!.numSamples, rounds.reduce((sum, r) => sum + r.n, 0));
    });
    assert.ok(rows.every((r) => r.w === 1), 'k-center weights are 1');
    const own = evaluations.filter((e) => e.modelTrigger === e.intervalId);
    assert.ok(own.every((e) => e.accuracy! > 0.6), `accuracies ${own.map((e) => e.accuracy)}`);
  });

  it('trains RHO-LOSS batch-then-sample with an irreducible-loss model trained on the trigger\'s holdout', async () => {
    const { pipelineId, triggers, models, evaluations } = await run('rho-loss', {
      downsampling: { strategy: 'rhoLoss', ratio: 0.5, holdout: { ratio: 0.2 }, irreducibleEpochs: 2 },
    });
    assert.equal(models.length, 3);
    for (const [i, t] of triggers.entries()) {
      const { rows } = await postgres.pool.query('SELECT count(*)::int AS n FROM downsampled_samples WHERE pipeline_id = $1 AND trigger_id = $2 AND round = -1', [pipelineId, t.triggerId]);
      assert.ok(rows[0].n > 0, 'a holdout for the irreducible-loss model');
      assert.equal(t.numSelected! + rows[0].n, t.numWindow, 'held out of the training set');
      assert.equal(models[i]!.numScored, EPOCHS * t.numSelected!);
    }
    const own = evaluations.filter((e) => e.modelTrigger === e.intervalId);
    assert.ok(own.every((e) => e.accuracy! > 0.6), `accuracies ${own.map((e) => e.accuracy)}`);

    const twin = await run('rho-loss-twin', { downsampling: { strategy: 'rhoLoss', ratio: 0.5, holdout: { strategy: 'twin' } } });
    assert.equal(twin.models.length, 3);
    for (const t of twin.triggers) assert.equal(t.numSelected, t.numWindow, 'a twin holdout keeps every sample in training');
    assert.ok(twin.evaluations.filter((e) => e.modelTrigger === e.intervalId).every((e) => e.accuracy! > 0.6));
  });

  it('mixes fresh and used samples with freshness, counting each use once', async () => {
    const { pipelineId, triggers, models } = await run('freshness', { window: { kind: 'allData' }, freshness: { unusedRatio: 0.5 } });
    assert.equal(models.length, 3);
    assert.equal(triggers[0]!.numSelected, triggers[0]!.numWindow);
    const { rows } = await postgres.pool.query('SELECT sum(uses)::int AS uses FROM sample_uses WHERE pipeline_id = $1', [pipelineId]);
    assert.equal(rows[0].uses, triggers.reduce((sum, t) => sum + t.numSelected!, 0));
    for (const t of triggers.slice(1)) {
      const { rows: fresh } = await postgres.pool.query(
        'SELECT count(*)::int AS n FROM training_samples WHERE pipeline_id = $1 AND trigger_id = $2 AND sample_key >= $3',
        [pipelineId, t.triggerId, t.firstKey],
      );
      assert.equal(fresh[0].n * 2, t.numSelected, `trigger ${t.triggerId}: half of its set is its new data`);
    }
  });
});
