import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Batch } from '../../lib/data/batch.js';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { ingestFiles } from '../../lib/data/ingest.js';
import { trainingBatches, trainingEpochs, type LoaderOptions } from '../../lib/data/loader.js';
import { writeTrainingSet } from '../../lib/data/selection.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';

let db: TestPostgres;
let dir: string;
let dataset: Dataset;
let pipelineId: number;
const PARTITION = 150;
const BATCH = 32;

async function load(opts: LoaderOptions & { skipBatches?: number; epoch?: number }): Promise<Batch[]> {
  const all: Batch[] = [];
  for await (const b of trainingBatches(db.pool, dataset, { pipelineId, triggerId: 1, batchSize: BATCH, seed: 3, epoch: 0, partitionSize: PARTITION, ...opts })) {
    all.push(b);
  }
  return all;
}

before(async () => {
  [db, dir] = await Promise.all([startTestPostgres(), mkdtemp(path.join(os.tmpdir(), 'tideline-prefetch-'))]);
  dataset = await registerDataset(db.pool, { name: 'prefetch', root: dir, format: syntheticFormat(5, 3) });
  const files: string[] = [];
  for (let i = 0; i < 6; i++) {
    files.push(await writeBlobFile(dir, `f${i}.bin`, { samples: 170 + 13 * i, features: 5, numClasses: 3, startTs: 1000 * i, spanS: 900, seed: i }));
  }
  await ingestFiles(db.pool, dataset, files, { parallel: 3 });
  const { rows } = await db.pool.query(`INSERT INTO pipelines (name, dataset_id, spec) VALUES ('p', $1, '{}') RETURNING pipeline_id`, [dataset.id]);
  pipelineId = rows[0].pipeline_id;
  await writeTrainingSet(db.pool, { pipelineId, triggerId: 1, datasetId: dataset.id, ranges: [{ firstKey: 1, lastKey: 100_000 }], holdout: { fraction: 0.1, seed: 1 } });
});
after(async () => {
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('loader prefetch', () => {
  let reference: Batch[];

  before(async () => {
    reference = await load({ prefetchPartitions: 0, parallelRequests: 1 });
  });

  it('reads several partitions of several files', async () => {
    const samples = reference.reduce((n, b) => n + b.size, 0);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM training_samples WHERE pipeline_id = $1', [pipelineId]);
    assert.equal(samples, rows[0].n);
    assert.ok(samples > 5 * PARTITION, `${samples} samples`);
  });

  it('yields identical batches for any number of prefetched partitions and parallel requests', async () => {
    for (const [prefetchPartitions, parallelRequests] of [[1, 1], [2, 4], [4, 2], [10, 16]] as const) {
      assert.deepEqual(await load({ prefetchPartitions, parallelRequests }), reference, `P=${prefetchPartitions} R=${parallelRequests}`);
    }
  });

  it('resumes with skipBatches at the same batches, with prefetch', async () => {
    for (const skipBatches of [1, 5, 9, reference.length - 1]) {
      assert.deepEqual(await load({ prefetchPartitions: 3, parallelRequests: 2, skipBatches }), reference.slice(skipBatches), `skip ${skipBatches}`);
    }
  });

  it('stops cleanly when the consumer stops early', async () => {
    for await (const b of trainingBatches(db.pool, dataset, { pipelineId, triggerId: 1, batchSize: BATCH, seed: 3, epoch: 0, partitionSize: PARTITION, prefetchPartitions: 4, parallelRequests: 4 })) {
      assert.equal(b.size, BATCH);
      break;
    }
    assert.deepEqual(await load({ prefetchPartitions: 4, parallelRequests: 4 }), reference);
  });

  it('selects a seeded uniform subset of the training set', async () => {
    const keysOf = async (triggerId: number) =>
      (await db.pool.query('SELECT sample_key FROM training_samples WHERE pipeline_id = $1 AND trigger_id = $2 ORDER BY 1', [pipelineId, triggerId])).rows.map((r) => r.sample_key);
    const args = { pipelineId, datasetId: dataset.id, ranges: [{ firstKey: 1, lastKey: 100_000 }], holdout: { fraction: 0.1, seed: 1 } };
    const all = await keysOf(1);
    const half = await writeTrainingSet(db.pool, { ...args, triggerId: 2, subset: { fraction: 0.5, seed: 9 } });
    const keys = await keysOf(2);
    assert.equal(keys.length, half);
    assert.ok(half > 0.4 * all.length && half < 0.6 * all.length, `${half} of ${all.length}`);
    const inAll = new Set(all);
    assert.ok(keys.every((k) => inAll.has(k)), 'a subset of the non-held-out samples');
    assert.equal(await writeTrainingSet(db.pool, { ...args, triggerId: 2, subset: { fraction: 0.5, seed: 9 } }), half);
    assert.deepEqual(await keysOf(2), keys, 'the same seed selects the same samples');
    assert.equal(await writeTrainingSet(db.pool, { ...args, triggerId: 3, subset: { fraction: 1, seed: 9 } }), all.length);
    await assert.rejects(writeTrainingSet(db.pool, { ...args, triggerId: 3, subset: { fraction: 0, seed: 9 } }), /subset fraction 0 is not in \(0, 1\]/);
  });

  it('reads epochs back to back, each started before the one before ends, as the epochs one by one', async () => {
    const byEpoch = [reference, await load({ epoch: 1 }), await load({ epoch: 2 })];
    const epochs = async (args: { epoch: number; endEpoch: number; skipBatches?: number }, count = Infinity): Promise<Batch[]> => {
      const all: Batch[] = [];
      for await (const b of trainingEpochs(db.pool, dataset, { pipelineId, triggerId: 1, batchSize: BATCH, seed: 3, partitionSize: PARTITION, ...args })) {
        all.push(b);
        if (all.length === count) break;
      }
      return all;
    };
    assert.deepEqual(await epochs({ epoch: 0, endEpoch: 3 }), byEpoch.flat());
    assert.deepEqual(await epochs({ epoch: 1, endEpoch: 3, skipBatches: 4 }), [...byEpoch[1]!.slice(4), ...byEpoch[2]!]);
    assert.deepEqual(await epochs({ epoch: 2, endEpoch: 2 }), []);
    // Stopped in the middle of an epoch whose successor is loading: the loader goes on working.
    assert.deepEqual(await epochs({ epoch: 0, endEpoch: 1000 }, reference.length + 2), [...reference, ...byEpoch[1]!.slice(0, 2)]);
    assert.deepEqual(await load({}), reference);
  });

  it('refuses bad prefetch settings naming the setting', async () => {
    await assert.rejects(load({ prefetchPartitions: -1 }), /prefetchPartitions must be an integer >= 0, got -1/);
    await assert.rejects(load({ parallelRequests: 0 }), /parallelRequests must be an integer >= 1, got 0/);
  });
});
