import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Batch } from '../../lib/data/batch.js';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { ingestFiles } from '../../lib/data/ingest.js';
import { trainingBatches, type LoaderOptions } from '../../lib/data/loader.js';
import { writeTrainingSet } from '../../lib/data/selection.js';
import { blockSize, EpochOrder } from '../../lib/data/shuffle.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

const FILES = 8;
const PER_FILE = 200;
const PARTITION = 64;
const BATCH = 24;
const SEED = 7;

let db: TestPostgres;
let dir: string;
let dataset: Dataset;
let pipelineId: number;
/** Rank in key order of each training sample, by its id (the id is the sample's only feature). */
const rankOfId = new Map<number, number>();

/** Records of file f: label int32, timestamp int64, one float32 feature holding the id f * PER_FILE + i. */
function recordsOf(f: number): Buffer {
  const buffer = Buffer.alloc(PER_FILE * 16);
  for (let i = 0; i < PER_FILE; i++) {
    buffer.writeInt32LE(i % 3, i * 16);
    buffer.writeBigInt64LE(BigInt(1000 * f + i), i * 16 + 4);
    buffer.writeFloatLE(f * PER_FILE + i, i * 16 + 12);
  }
  return buffer;
}

type Args = LoaderOptions & { epoch?: number; seed?: number; skipBatches?: number; round?: number };

async function load(args: Args = {}): Promise<Batch[]> {
  const all: Batch[] = [];
  for await (const b of trainingBatches(db.pool, dataset, { pipelineId, triggerId: 1, batchSize: BATCH, seed: SEED, epoch: 0, partitionSize: PARTITION, ...args })) {
    all.push(b);
  }
  return all;
}

/** The key-order rank of every sample yielded, in output order. */
function ranks(batches: Batch[]): number[] {
  return batches.flatMap((b) => Array.from(b.x.subarray(0, b.size), (id) => rankOfId.get(id)!));
}

before(async () => {
  [db, dir] = await Promise.all([startTestPostgres(), mkdtemp(path.join(os.tmpdir(), 'tideline-global-shuffle-'))]);
  dataset = await registerDataset(db.pool, {
    name: 'global-shuffle', root: dir,
    format: { kind: 'binary', recordSize: 16, byteOrder: 'little', label: { offset: 0, type: 'int32' }, timestamp: { offset: 4, type: 'int64' }, features: { offset: 12, count: 1 }, numClasses: 3 },
  });
  const files: string[] = [];
  for (let f = 0; f < FILES; f++) {
    await writeFile(path.join(dir, `f${f}.bin`), recordsOf(f));
    files.push(`f${f}.bin`);
  }
  await ingestFiles(db.pool, dataset, files, { parallel: 3 });
  const { rows } = await db.pool.query(`INSERT INTO pipelines (name, dataset_id, spec) VALUES ('p', $1, '{}') RETURNING pipeline_id`, [dataset.id]);
  pipelineId = rows[0].pipeline_id;
  await writeTrainingSet(db.pool, { pipelineId, triggerId: 1, datasetId: dataset.id, ranges: [{ firstKey: 1, lastKey: 100_000 }], holdout: { fraction: 0.1, seed: 1 } });
  const { rows: training } = await db.pool.query(
    `SELECT f.path, s.index_in_file FROM training_samples t
     JOIN samples s ON s.dataset_id = $2 AND s.sample_key = t.sample_key JOIN files f ON f.file_id = s.file_id
     WHERE t.pipeline_id = $1 AND t.trigger_id = 1 ORDER BY t.sample_key`,
    [pipelineId, dataset.id],
  );
  training.forEach((r, rank) => rankOfId.set(Number(/f(\d+)\.bin/.exec(r.path)![1]) * PER_FILE + r.index_in_file, rank));
});
after(async () => {
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('global shuffle', () => {
  let reference: Batch[];

  before(async () => {
    reference = await load({ prefetchPartitions: 0, parallelRequests: 1 });
  });

  it('yields every training sample exactly once per epoch, only the last batch short', async () => {
    const n = rankOfId.size;
    assert.ok(n > 20 * PARTITION, `${n} samples`);
    for (const args of [{}, { epoch: 1 }, { seed: 8 }, { partitionSize: 5 }, { partitionSize: 3 * n }]) {
      const epoch = await load(args);
      assert.deepEqual(epoch.map((b) => b.size), [...Array(Math.floor(n / BATCH)).fill(BATCH), ...(n % BATCH ? [n % BATCH] : [])], JSON.stringify(args));
      assert.deepEqual(ranks(epoch).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), JSON.stringify(args));
    }
  });

  it('mixes old and new data from the first batches on', async () => {
    const n = rankOfId.size;
    for (let epoch = 0; epoch < 5; epoch++) {
      const order = ranks(await load({ epoch }));
      const head = order.slice(0, 2 * PARTITION);
      assert.ok(Math.max(...head) - Math.min(...head) > n / 2, `epoch ${epoch}: the first ${head.length} samples span ranks ${Math.min(...head)}..${Math.max(...head)} of ${n}`);
      // The first batch alone draws on several regions of the set, not one span of time.
      const eighths = new Set(order.slice(0, BATCH).map((rank) => Math.floor((8 * rank) / n)));
      assert.ok(eighths.size >= 4, `epoch ${epoch}: the first batch covers ${eighths.size} eighths of the key range`);
      // The epoch does not walk from old to new data: both halves of it average near the middle of the set.
      const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      const [first, second] = [mean(order.slice(0, n >> 1)), mean(order.slice(n >> 1))];
      assert.ok(Math.abs(first - second) < n / 8, `epoch ${epoch}: mean rank ${first.toFixed(0)} in the first half, ${second.toFixed(0)} in the second`);
    }
  });

  it('gives each (seed, epoch) its own order, and the same one every time', async () => {
    assert.deepEqual(await load(), reference);
    const base = ranks(reference);
    for (const args of [{ epoch: 1 }, { epoch: 2 }, { seed: SEED + 1 }]) assert.notDeepEqual(ranks(await load(args)), base, JSON.stringify(args));
    assert.deepEqual(await load({ epoch: 1 }), await load({ epoch: 1 }));
  });

  it('resumes with skipBatches at exactly the remaining batches of the epoch', async () => {
    // A resume point at a partition boundary: the rows of whole partitions before it are a whole number of batches.
    const order = new EpochOrder(rankOfId.size, blockSize(PARTITION), SEED, 0);
    const boundary = Array.from({ length: reference.length }, (_, s) => s).find((s) => s > 0 && order.locate(s * BATCH).offset === 0);
    assert.ok(boundary !== undefined, 'some batch starts a partition');
    const inside = boundary + 1;
    assert.notEqual(order.locate(inside * BATCH).offset, 0, 'a resume point inside a partition');
    for (const skipBatches of [1, inside, boundary, reference.length - 1, reference.length, reference.length + 10]) {
      assert.deepEqual(await load({ skipBatches, prefetchPartitions: 2, parallelRequests: 3 }), reference.slice(skipBatches), `skip ${skipBatches}`);
    }
  });

  it("reads a sample-then-batch round's samples with their weights, shuffled the same way", async () => {
    // Round 2 of the trigger keeps every third training sample, weighted by its rank.
    await db.pool.query(
      `INSERT INTO downsampled_samples (pipeline_id, trigger_id, round, sample_key, weight)
       SELECT pipeline_id, trigger_id, 2, sample_key, r FROM (
         SELECT pipeline_id, trigger_id, sample_key, row_number() OVER (ORDER BY sample_key) - 1 AS r
         FROM training_samples WHERE pipeline_id = $1 AND trigger_id = 1
       ) k WHERE r % 3 = 0`,
      [pipelineId],
    );
    const round = await load({ round: 2 });
    const yielded = ranks(round);
    assert.deepEqual([...yielded].sort((a, b) => a - b), Array.from({ length: Math.ceil(rankOfId.size / 3) }, (_, i) => 3 * i));
    assert.deepEqual(round.flatMap((b) => Array.from(b.w.subarray(0, b.size))), yielded, 'each sample with its weight');
    const head = yielded.slice(0, 2 * PARTITION);
    assert.ok(Math.max(...head) - Math.min(...head) > rankOfId.size / 2, 'shuffled across the round');
    assert.deepEqual(await load({ round: 2, skipBatches: 3, prefetchPartitions: 2 }), round.slice(3));
  });

  it('yields the same batches for any prefetch depth and number of parallel requests', async () => {
    for (const prefetchPartitions of [0, 1, 3]) {
      for (const parallelRequests of [1, 4]) {
        assert.deepEqual(await load({ prefetchPartitions, parallelRequests }), reference, `prefetch ${prefetchPartitions}, requests ${parallelRequests}`);
      }
    }
  });
});
