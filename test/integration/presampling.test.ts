import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fairShares } from '../../policies/selection/fair-shares.js';
import { selectionPlan, type SelectionPlan } from '../../policies/selection/plan.js';
import { parseSpec, type PipelineSpecInput } from '../../policies/spec.js';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { heldOutSql } from '../../lib/data/holdout.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { selectTrainingSet } from '../../lib/data/training-set/select.js';
import { upsertPipeline } from '../../lib/pipelines/registry.js';
import { recordTrigger } from '../../lib/pipelines/triggers.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

/** 3000 samples in three triggers' worth of data; labels skewed 60/30/10 % so balancing has work to do. */
const SAMPLES = 3000;
const HOLDOUT = { fraction: 0.1, seed: 5 };
const labelOf = (i: number) => (i % 10 < 6 ? 0 : i % 10 < 9 ? 1 : 2);

let db: TestPostgres;
let dir: string;
let dataset: Dataset;
let firstKey: number;
let pipelines = 0;

before(async () => {
  db = await startTestPostgres();
  dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-presampling-'));
  const record = 16;
  const buf = Buffer.alloc(SAMPLES * record);
  for (let i = 0; i < SAMPLES; i++) {
    buf.writeInt32LE(labelOf(i), i * record);
    buf.writeBigInt64LE(BigInt(1_700_000_000 + i), i * record + 4);
    buf.writeFloatLE(i, i * record + 12);
  }
  await writeFile(path.join(dir, 'all.bin'), buf);
  dataset = await registerDataset(db.pool, {
    name: 'presampling', root: dir, holdout: HOLDOUT,
    format: { kind: 'binary', recordSize: record, byteOrder: 'little', label: { offset: 0, type: 'int32' }, timestamp: { offset: 4, type: 'int64' }, features: { offset: 12, count: 1 }, numClasses: 3 },
  });
  await ingestFile(db.pool, dataset, 'all.bin');
  const { rows } = await db.pool.query('SELECT min(sample_key) AS k FROM samples WHERE dataset_id = $1', [dataset.id]);
  firstKey = Number(rows[0].k);
});

after(async () => {
  await db?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Trigger t's new data: the t-th third of the dataset (triggers past the data get empty ranges). */
const triggerRange = (t: number) => ({ firstKey: firstKey + t * 1000, lastKey: firstKey + t * 1000 + 999 });

/** A fresh pipeline whose spec has `selection`, and a function that runs the selection of its trigger t. */
async function pipeline(selection: PipelineSpecInput['selection']) {
  const spec = parseSpec({
    dataset: { name: dataset.name }, model: { architecture: 'mlp', numClasses: 3 },
    training: { optimizer: { name: 'sgd', lr: 0.1 }, seed: 11 }, trigger: { kind: 'dataAmount', every: 1000 }, selection,
  });
  const { pipelineId } = await upsertPipeline(db.pool, `p${++pipelines}`, `run-${pipelines}`, dataset.id, spec);
  const select = async (triggerId: number, plan: SelectionPlan = selectionPlan(spec.selection, triggerId, spec.training.seed)) => {
    await recordTrigger(db.pool, pipelineId, dataset.id, triggerId, triggerRange(triggerId), null);
    return selectTrainingSet(db.pool, { pipelineId, triggerId, datasetId: dataset.id, trigger: triggerRange(triggerId), pipelineFirstKey: firstKey, holdout: dataset.holdout, plan });
  };
  const keys = async (triggerId: number): Promise<number[]> => (await db.pool.query(
    'SELECT sample_key FROM training_samples WHERE pipeline_id = $1 AND trigger_id = $2 ORDER BY sample_key', [pipelineId, triggerId],
  )).rows.map((r) => Number(r.sample_key));
  return { pipelineId, spec, select, keys };
}

/** Keys in [first, last] that are not held out. */
async function eligible(first: number, last: number): Promise<number[]> {
  const { rows } = await db.pool.query(
    `SELECT sample_key FROM samples WHERE dataset_id = $1 AND sample_key BETWEEN $2 AND $3 AND NOT ${heldOutSql('sample_key', '$4', '$5')} ORDER BY 1`,
    [dataset.id, first, last, HOLDOUT.seed, Math.floor(HOLDOUT.fraction * 2 ** 32)],
  );
  return rows.map((r) => Number(r.sample_key));
}

const labelCounts = (keys: number[]) => [0, 1, 2].map((label) => keys.filter((k) => labelOf(k - firstKey) === label).length);

describe('selection windows and limits', () => {
  it('newData takes the trigger\'s samples that are not held out', async () => {
    const p = await pipeline({});
    const result = await p.select(1);
    const expected = await eligible(triggerRange(1).firstKey, triggerRange(1).lastKey);
    assert.deepEqual(await p.keys(1), expected);
    assert.deepEqual(result, { numWindow: expected.length, numSelected: expected.length });
  });

  it('lastTriggers k reaches back k triggers; allData to the pipeline\'s first key', async () => {
    const last = await pipeline({ window: { kind: 'lastTriggers', triggers: 1 } });
    const all = await pipeline({ window: { kind: 'allData' } });
    for (const t of [0, 1, 2]) {
      await last.select(t);
      await all.select(t);
    }
    assert.deepEqual(await last.keys(2), await eligible(triggerRange(1).firstKey, triggerRange(2).lastKey));
    assert.deepEqual(await all.keys(2), await eligible(firstKey, triggerRange(2).lastKey));
  });

  it('a limit is global: the newest samples of the whole window, or a seeded uniform share of it', async () => {
    const newest = await pipeline({ window: { kind: 'allData' }, limit: { samples: 500, keep: 'last' } });
    const uniform = await pipeline({ window: { kind: 'allData' }, limit: { samples: 500, keep: 'uniform' } });
    for (const t of [0, 1, 2]) {
      await newest.select(t);
      await uniform.select(t);
    }
    const window = await eligible(firstKey, triggerRange(2).lastKey);
    assert.deepEqual(await newest.keys(2), window.slice(-500));
    const picked = await uniform.keys(2);
    assert.equal(picked.length, 500);
    // Uniform over the whole window: each third holds about a third of the picks.
    for (const t of [0, 1, 2]) {
      const inThird = picked.filter((k) => k >= triggerRange(t).firstKey && k <= triggerRange(t).lastKey).length;
      assert.ok(inThird > 120 && inThird < 215, `third ${t} holds ${inThird} of 500`);
    }
  });
});

describe('presampling', () => {
  it('random picks exactly ratio × window, the same keys on a retry and on a rewrite', async () => {
    const p = await pipeline({ window: { kind: 'allData' }, presampling: { strategy: 'random', ratio: 0.5 } });
    await p.select(0);
    const first = await p.select(1);
    const window = await eligible(firstKey, triggerRange(1).lastKey);
    assert.deepEqual(first, { numWindow: window.length, numSelected: Math.floor(window.length / 2) });
    const keys = await p.keys(1);
    assert.deepEqual(await p.select(1), first, 'a retry after the commit returns the committed set');
    assert.deepEqual(await p.keys(1), keys);
    await db.pool.query('UPDATE triggers SET num_window = NULL WHERE pipeline_id = $1 AND trigger_id = 1', [p.pipelineId]);
    assert.deepEqual(await p.select(1), first);
    assert.deepEqual(await p.keys(1), keys, 'the seeded hash picks the same keys when the set is written again');
    assert.notDeepEqual(await p.keys(0), (await p.keys(1)).filter((k) => k <= triggerRange(0).lastKey), 'another trigger draws other keys');
  });

  it('labelBalanced gives each label its fair share; the options force equal counts or the exact target', async () => {
    const window = await eligible(triggerRange(0).firstKey, triggerRange(0).lastKey);
    const sizes = labelCounts(window);
    const target = Math.floor(window.length * 0.4);
    for (const options of [{}, { forceColumnBalancing: true }, { forceRequiredTargetSize: true }]) {
      const p = await pipeline({ presampling: { strategy: 'labelBalanced', ratio: 0.4, ...options } });
      await p.select(0);
      const picked = await p.keys(0);
      assert.deepEqual(labelCounts(picked), fairShares(sizes, target, options), JSON.stringify(options));
      assert.ok(picked.every((k) => window.includes(k)));
    }
    const exact = await pipeline({ presampling: { strategy: 'labelBalanced', ratio: 0.4, forceRequiredTargetSize: true } });
    assert.equal((await exact.select(0)).numSelected, target);
  });

  it('triggerBalanced gives each trigger\'s data its fair share of the window', async () => {
    const p = await pipeline({ window: { kind: 'allData' }, presampling: { strategy: 'triggerBalanced', ratio: 0.3 } });
    for (const t of [0, 1, 2]) await p.select(t);
    const picked = await p.keys(2);
    const sizes = await Promise.all([0, 1, 2].map(async (t) => (await eligible(triggerRange(t).firstKey, triggerRange(t).lastKey)).length));
    const perTrigger = [0, 1, 2].map((t) => picked.filter((k) => k >= triggerRange(t).firstKey && k <= triggerRange(t).lastKey).length);
    assert.deepEqual(perTrigger, fairShares(sizes, Math.floor(sizes.reduce((a, b) => a + b) * 0.3)));
  });

  it('randomNoReplacement uses every sample once before it uses any twice, and counts a use once per trigger', async () => {
    const p = await pipeline({ window: { kind: 'allData' }, presampling: { strategy: 'randomNoReplacement', ratio: 0.4 } });
    const window = await eligible(firstKey, firstKey + SAMPLES - 1);
    // Trigger 0 takes the whole dataset and triggers 1..3 bring no new data: the window stays the same.
    const rangeOf = (t: number) => (t === 0 ? { firstKey, lastKey: firstKey + SAMPLES - 1 } : { firstKey: firstKey + SAMPLES + t - 1, lastKey: firstKey + SAMPLES + t - 1 });
    const sets: number[][] = [];
    for (const t of [0, 1, 2, 3]) {
      await recordTrigger(db.pool, p.pipelineId, dataset.id, t, rangeOf(t), null);
      const plan = selectionPlan(p.spec.selection, t, p.spec.training.seed);
      const args = { pipelineId: p.pipelineId, triggerId: t, datasetId: dataset.id, trigger: rangeOf(t), pipelineFirstKey: firstKey, holdout: dataset.holdout, plan };
      await selectTrainingSet(db.pool, args);
      await selectTrainingSet(db.pool, args);
      sets.push(await p.keys(t));
    }
    const target = Math.floor(window.length * 0.4);
    assert.deepEqual(sets.map((s) => s.length), [target, target, target, target]);
    assert.equal(new Set([...sets[0]!, ...sets[1]!]).size, 2 * target, 'triggers 0 and 1 share no sample');
    assert.deepEqual([...new Set(sets.slice(0, 3).flat())].sort((a, b) => a - b), window, 'three triggers cover the window');
    const { rows } = await db.pool.query('SELECT uses, count(*)::int AS n FROM sample_uses WHERE pipeline_id = $1 GROUP BY uses ORDER BY uses', [p.pipelineId]);
    const total = rows.reduce((sum, r) => sum + r.uses * r.n, 0);
    assert.equal(total, 4 * target, 'each trigger counted its uses once, although selected twice');
    assert.ok(rows.every((r) => r.uses <= 2));
  });

  it('holds a seeded share of the set out for RHO-LOSS\'s irreducible-loss model, which the trigger does not train on', async () => {
    const p = await pipeline({ downsampling: { strategy: 'rhoLoss', ratio: 0.5, holdout: { ratio: 0.2 } } });
    const window = await eligible(triggerRange(0).firstKey, triggerRange(0).lastKey);
    const selected = await p.select(0);
    const { rows } = await db.pool.query('SELECT sample_key FROM downsampled_samples WHERE pipeline_id = $1 AND trigger_id = 0 AND round = -1 ORDER BY 1', [p.pipelineId]);
    const heldOut = rows.map((r) => Number(r.sample_key));
    assert.ok(heldOut.length > 0.15 * window.length && heldOut.length < 0.25 * window.length, `${heldOut.length} of ${window.length} held out`);
    const training = await p.keys(0);
    assert.equal(selected.numSelected, training.length);
    assert.deepEqual([...training, ...heldOut].sort((a, b) => a - b), window, 'every selected sample is in exactly one of the two');
  });

  it('splits the set into two seeded halves for a twin holdout, and trains on all of it', async () => {
    const p = await pipeline({ downsampling: { strategy: 'rhoLoss', ratio: 0.5, holdout: { strategy: 'twin' } } });
    const window = await eligible(triggerRange(0).firstKey, triggerRange(0).lastKey);
    assert.equal((await p.select(0)).numSelected, window.length);
    const half = async (round: number) => (await db.pool.query(
      'SELECT sample_key FROM downsampled_samples WHERE pipeline_id = $1 AND trigger_id = 0 AND round = $2 ORDER BY 1', [p.pipelineId, round],
    )).rows.map((r) => Number(r.sample_key));
    const [first, second] = [await half(-1), await half(-2)];
    assert.ok(Math.abs(first.length - second.length) < 0.15 * window.length, `halves of ${first.length} and ${second.length}`);
    assert.deepEqual([...first, ...second].sort((a, b) => a - b), window);
  });

  it('freshness mixes never-used and used samples in its ratio', async () => {
    const p = await pipeline({ window: { kind: 'allData' }, freshness: { unusedRatio: 0.5 } });
    const first = await p.select(0);
    assert.equal(first.numSelected, first.numWindow, 'the first trigger takes all its unused data');
    await p.select(1);
    const picked = await p.keys(1);
    const fresh = picked.filter((k) => k >= triggerRange(1).firstKey).length;
    assert.equal(fresh, picked.length - fresh);
    assert.equal(fresh, Math.min((await eligible(triggerRange(1).firstKey, triggerRange(1).lastKey)).length, first.numSelected));
  });
});
