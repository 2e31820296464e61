import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { prepareDriftingDigits } from '../../lib/streams/rotating-digits.js';
import { parseDatasetConfig } from '../../lib/data/dataset-config.js';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { latestPolicyEvaluations } from '../../lib/pipelines/policy-evaluations.js';
import { listTriggers } from '../../lib/pipelines/triggers.js';
import type { PipelineSpecInput } from '../../policies/spec.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';
import { failureMessage, waitFor } from '../helpers/pipelines.js';
import type { TestPostgres } from '../helpers/postgres.js';
import type { TestTemporal } from '../helpers/temporal.js';
import { startTestWorld, type TestWorld } from '../helpers/world.js';
import { newDataSignal, statusQuery, stopSignal } from '../../workflows/messages.js';

/** Real digits, upright for two periods, then turned 60°, then 120°: abrupt changes at known keys. */
const ROTATIONS = [0, 0, 60, 60, 120, 120];
const PER_PERIOD = Math.floor(10_000 / ROTATIONS.length);
const CHANGES = [2 * PER_PERIOD + 1, 4 * PER_PERIOD + 1];
const EVERY = 500;

/** The interval ends at which a cut counts as "within one evaluation interval" of a change. */
function nearChange(cut: number): boolean {
  return CHANGES.some((change) => cut >= change && cut < change + 2 * EVERY);
}

describe('model-aware triggers on rotating digits (real Temporal dev server, PostgreSQL, ONNX Runtime)', () => {
  let temporal: TestTemporal;
  let postgres: TestPostgres;
  let root: string;
  let dataset: Dataset;
  let world: TestWorld | undefined;
  const queues = { cpu: 'triggers-cpu', gpu: 'triggers-gpu' };

  const spec = (trigger: unknown): PipelineSpecInput => ({
    dataset: { name: 'digits' },
    model: { architecture: 'mlp', hidden: [64], numClasses: 10 },
    training: { epochs: 3, batchSize: 32, optimizer: { name: 'adam', lr: 0.002 }, seed: 5, checkpointEvery: 100 },
    trigger: trigger as PipelineSpecInput['trigger'],
    queues,
  });
  const drift = { kind: 'dataDrift', every: EVERY, window: { samples: EVERY }, metrics: [{ kind: 'mmd', criterion: { kind: 'threshold', value: 0.02 } }] };
  const performance = { kind: 'performance', every: EVERY, criteria: [{ kind: 'threshold', value: 0.7 }] };

  before(async () => {
    world = await startTestWorld('model-triggers', queues, { 'limit.historyCount.suggestContinueAsNew': 60 });
    ({ temporal, postgres, root } = world);
    const files = await prepareDriftingDigits(root, { periods: ROTATIONS.length, degreesPerPeriod: 0, rotations: ROTATIONS, seed: 3 });
    dataset = await registerDataset(postgres.pool, parseDatasetConfig({
      name: 'digits', root,
      format: { kind: 'binary', recordSize: 3148, byteOrder: 'little', label: { offset: 0, type: 'int32' }, timestamp: { offset: 4, type: 'int64' }, features: { offset: 12, count: 784 }, numClasses: 10 },
    }));
    for (const file of files) assert.equal((await ingestFile(postgres.pool, dataset, file)).status, 'ingested');
    await world.runWorkers();
  });

  after(() => world?.stop());

  /** Runs a pipeline over the whole stream (it catches up from the database) and returns its trigger rows. */
  async function runOver(name: string, trigger: unknown) {
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: name, args: [spec(trigger)],
    });
    await waitFor(`${name} to evaluate the stream`, async () => {
      const s = await handle.query(statusQuery);
      return s.lastKey === 6 * PER_PERIOD && s.current === 'waiting for data' ? s : undefined;
    });
    await handle.signal(stopSignal);
    const summary = await handle.result();
    return { summary, triggers: await listTriggers(postgres.pool, summary.pipelineId) };
  }

  it('a drift trigger fires within one evaluation interval of each change and never in the stable stretches', async (t) => {
    const { summary, triggers } = await runOver('drift', drift);
    const cuts = triggers.map((t) => t.lastKey);
    const scores = (await latestPolicyEvaluations(postgres.pool, summary.pipelineId, 100)).reverse();
    t.diagnostic(`mmd² by interval end: ${scores.map((e) => `${e.interval.lastKey}: ${e.scores.mmd?.toFixed(4) ?? '–'}`).join(', ')}`);
    assert.equal(cuts[0], EVERY, 'the first evaluation triggers for lack of a model');
    assert.match(triggers[0]!.reason!, /no model yet/);
    for (const cut of cuts.slice(1)) assert.ok(nearChange(cut), `cut at ${cut} is in a stable stretch (cuts ${cuts})`);
    for (const change of CHANGES) assert.ok(cuts.some((c) => c >= change && c < change + 2 * EVERY), `no cut after the change at ${change} (cuts ${cuts})`);
    assert.ok(triggers.slice(1).every((t) => /drift: mmd/.test(t.reason!)));
    const evaluations = await latestPolicyEvaluations(postgres.pool, summary.pipelineId, 100);
    assert.equal(evaluations.length, Math.floor((6 * PER_PERIOD) / EVERY));
    assert.ok(evaluations.every((e) => e.policy === 'trigger' && (e.modelId === null || e.request?.kind === 'embeddingDrift')));
  });

  it('a performance trigger fires when accuracy falls under its threshold', async () => {
    const { summary, triggers } = await runOver('performance', performance);
    const cuts = triggers.map((t) => t.lastKey);
    for (const change of CHANGES) assert.ok(cuts.some((c) => c >= change && c < change + 2 * EVERY), `no cut after the change at ${change} (cuts ${cuts})`);
    const fired = (await latestPolicyEvaluations(postgres.pool, summary.pipelineId, 100)).filter((e) => e.triggered && e.modelId !== null);
    assert.ok(fired.length >= 2);
    for (const e of fired) assert.ok(e.scores.accuracy! < 0.7, JSON.stringify(e));
  });

  it('an ensemble of drift and performance triggers runs both and records each member', async () => {
    const { summary, triggers } = await runOver('ensemble', { kind: 'ensemble', vote: { kind: 'any' }, members: { drift, performance } });
    const cuts = triggers.map((t) => t.lastKey);
    for (const change of CHANGES) assert.ok(cuts.some((c) => c >= change && c < change + 2 * EVERY), `no cut after the change at ${change} (cuts ${cuts})`);
    const policies = new Set((await latestPolicyEvaluations(postgres.pool, summary.pipelineId, 200)).map((e) => e.policy));
    assert.deepEqual([...policies].sort(), ['trigger', 'trigger.members.drift', 'trigger.members.performance']);
    assert.ok(triggers.every((t) => /members fired/.test(t.reason!)));
  });

  it('fails a pipeline whose measurement cannot run, naming the trigger, the interval and the cause', { timeout: 180_000 }, async () => {
    // A dataset of its own over the same files: two periods first, so the pipeline trains once, then waits for data.
    const second = await registerDataset(postgres.pool, { name: 'digits-broken', root, format: dataset.format });
    for (const file of ['period-00.bin', 'period-01.bin']) assert.equal((await ingestFile(postgres.pool, second, file)).status, 'ingested');
    const wide = { ...drift, every: 2000, window: { samples: 2000 } };
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'broken-measurement', args: [{ ...spec(wide), dataset: { name: 'digits-broken' } }],
    });
    await waitFor('the first model', async () => {
      const s = await handle.query(statusQuery);
      return s.models === 1 && s.current === 'waiting for data' ? s : undefined;
    });
    const { rows } = await postgres.pool.query(`SELECT onnx_path FROM models m JOIN pipelines p USING (pipeline_id) WHERE p.name = 'broken-measurement'`);
    await rm(join(root, '.store', rows[0].onnx_path), { force: true });
    // The gpu worker keeps the sessions of models it used alive until it has been idle for 10 s: past that, the
    // next drift check must read the removed file.
    await new Promise((r) => setTimeout(r, 11_000));
    const outcome = await ingestFile(postgres.pool, second, 'period-02.bin');
    assert.equal(outcome.status, 'ingested');
    if (outcome.status === 'ingested') await handle.signal(newDataSignal, { datasetId: second.id });
    const err = await handle.result().then(() => undefined, (e: unknown) => e);
    assert.ok(err, 'the pipeline failed');
    const message = failureMessage(err);
    assert.match(message, /trigger/);
    assert.match(message, /2001/);
    assert.match(message, /ENOENT|no such file|missing/i);
  });
});
