import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Batch } from '../../lib/data/batch.js';
import { parseDatasetConfig } from '../../lib/data/dataset-config.js';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { DataError } from '../../lib/data/errors.js';
import { clearPixelCache } from '../../lib/data/formats/pixel-cache.js';
import { findNewFiles, ingestFiles } from '../../lib/data/ingest.js';
import { evaluationBatches, keyedBatches, trainingBatches, type LoaderOptions } from '../../lib/data/loader.js';
import { writeTrainingSet } from '../../lib/data/selection.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

const SIDE = 4;
const FEATURES = 3 * SIDE * SIDE;
const IMAGES = 150;
const BATCH = 16;

let db: TestPostgres;
let dir: string;
let dataset: Dataset;
/** Each sample's grey level: image i is solid grey 1 + i (so a row's pixels tell which image it holds). */
const levelOfKey = new Map<number, number>();

const imagePath = (i: number) => path.join(dataset.root, String(i % 3), `${String(i).padStart(4, '0')}.png`);
const writeImage = (file: string, level: number) =>
  sharp(Buffer.alloc(FEATURES, level), { raw: { width: SIDE, height: SIDE, channels: 3 } }).png().toFile(file);

async function load(opts: LoaderOptions & { skipBatches?: number; epoch?: number }): Promise<Batch[]> {
  const all: Batch[] = [];
  for await (const b of trainingBatches(db.pool, dataset, { pipelineId: 1, triggerId: 1, batchSize: BATCH, seed: 5, epoch: 0, ...opts })) all.push(b);
  return all;
}

/** Each row's pixels are its own image's, all of them. */
function assertRowsMatchKeys(batches: Batch[]): void {
  for (const b of batches) {
    assert.equal(b.x.length, b.size * FEATURES);
    for (let r = 0; r < b.size; r++) {
      const level = levelOfKey.get(b.keys![r]!)!;
      const x = b.x.subarray(r * FEATURES, (r + 1) * FEATURES);
      assert.ok(x.every((v) => Math.abs(v - level / 255) < 1e-6), `key ${b.keys![r]} should hold level ${level}, got ${x[0]! * 255}`);
    }
  }
}

before(async () => {
  [db, dir] = await Promise.all([startTestPostgres(), mkdtemp(path.join(os.tmpdir(), 'tideline-image-loader-'))]);
  await mkdir(path.join(dir, 'outside'));
  await mkdir(path.join(dir, 'root'));
  dataset = await registerDataset(db.pool, parseDatasetConfig({
    name: 'images', root: path.join(dir, 'root'), format: { kind: 'image', height: SIDE, width: SIDE, label: { from: 'folder' }, numClasses: 3 },
  }));
  for (let c = 0; c < 3; c++) await mkdir(path.join(dataset.root, String(c)), { recursive: true });
  for (let i = 0; i < IMAGES; i++) await writeImage(imagePath(i), 1 + i);
  const outcomes = await ingestFiles(db.pool, dataset, await findNewFiles(db.pool, dataset));
  assert.equal(outcomes.filter((o) => o.status === 'ingested').length, IMAGES);
  const { rows } = await db.pool.query('SELECT s.sample_key, f.path FROM samples s JOIN files f USING (file_id) WHERE s.dataset_id = $1', [dataset.id]);
  for (const row of rows) levelOfKey.set(Number(row.sample_key), 1 + Number(path.basename(row.path, '.png')));
  await writeTrainingSet(db.pool, { pipelineId: 1, triggerId: 1, datasetId: dataset.id, ranges: [{ firstKey: 1, lastKey: IMAGES }], holdout: { fraction: 0, seed: 1 } });
});
after(async () => {
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('image loader', () => {
  let reference: Batch[];

  before(async () => {
    reference = await load({ partitionSize: 1000, prefetchPartitions: 0, parallelRequests: 1 });
  });

  it('reads every image once per epoch, each row with its own pixels', () => {
    assert.deepEqual(reference.map((b) => b.size), [...new Array(9).fill(BATCH), IMAGES - 9 * BATCH]);
    assertRowsMatchKeys(reference);
    assert.equal(new Set(reference.flatMap((b) => Array.from(b.keys!))).size, IMAGES);
  });

  it('yields the same batches for any prefetch, parallel requests and resume point, partitions not a multiple of the batch', async () => {
    // Partitions of about 40 rows: batches span partitions, and chunks end where batches do.
    const partitioned = await load({ partitionSize: 40, prefetchPartitions: 0, parallelRequests: 1 });
    assertRowsMatchKeys(partitioned);
    for (const [prefetchPartitions, parallelRequests] of [[1, 1], [2, 8], [5, 3]] as const) {
      assert.deepEqual(await load({ partitionSize: 40, prefetchPartitions, parallelRequests }), partitioned, `P=${prefetchPartitions} R=${parallelRequests}`);
    }
    for (const skipBatches of [1, 3, 7]) {
      assert.deepEqual(await load({ partitionSize: 40, prefetchPartitions: 2, parallelRequests: 4, skipBatches }), partitioned.slice(skipBatches), `skip ${skipBatches}`);
    }
  });

  it('hands over whole batches in buffers of their own, which the trainer can transfer', async () => {
    for (const b of await load({ partitionSize: 40, prefetchPartitions: 1, parallelRequests: 8 })) {
      assert.equal(b.x.byteOffset, 0);
      assert.equal(b.x.buffer.byteLength, b.x.byteLength);
    }
  });

  it('reads the same pixels for evaluation and by key, from the pixel store in a new process', async () => {
    clearPixelCache();
    const evaluated: Batch[] = [];
    for await (const b of evaluationBatches(db.pool, dataset, { range: { firstKey: 1, lastKey: IMAGES }, holdout: null, batchSize: BATCH })) evaluated.push(b);
    assertRowsMatchKeys(evaluated);
    const keyed: Batch[] = [];
    for await (const b of keyedBatches(db.pool, dataset, { keys: [3, 50, 149], batchSize: 2 })) keyed.push(b);
    assert.deepEqual(keyed.flatMap((b) => Array.from(b.keys!)), [3, 50, 149]);
    assertRowsMatchKeys(keyed);
  });

  it('serves a rewritten image freshly decoded, and refuses a file swapped for a symlink out of the root, a folder swapped so, and a removed file, naming each', async () => {
    await load({});
    const rewritten = imagePath(0);
    const { size } = await stat(rewritten);
    // Grey levels 1 to 143 make PNGs of the same size.
    await writeImage(rewritten, 140);
    assert.equal((await stat(rewritten)).size, size, 'same size: only the identity check can tell');
    const keyOf = (i: number) => [...levelOfKey].find(([, level]) => level === 1 + i)![0];
    levelOfKey.set(keyOf(0), 140);
    assertRowsMatchKeys(await load({}));

    const refusal = async (message: RegExp) => {
      const error = await load({}).then(() => assert.fail('expected a DataError'), (e: unknown) => e);
      assert.ok(error instanceof DataError, String(error));
      assert.match(error.message, message);
    };
    // The same image outside the root, newer: neither cache nor store may serve it, and it is not decoded.
    const secret = path.join(dir, 'outside', 'secret.png');
    await writeImage(secret, 1 + 1);
    const moved = `${imagePath(1)}.moved`;
    await rename(imagePath(1), moved);
    await symlink(secret, imagePath(1));
    await refusal(/^1\/0001\.png: resolves outside the dataset root /);
    await rm(imagePath(1));
    await rename(moved, imagePath(1));

    const folder = path.join(dataset.root, '2');
    await rename(folder, `${folder}.moved`);
    await mkdir(path.join(dir, 'outside', '2'));
    for (let i = 2; i < IMAGES; i += 3) await writeImage(path.join(dir, 'outside', '2', path.basename(imagePath(i))), 1 + i);
    await symlink(path.join(dir, 'outside', '2'), folder);
    await refusal(/^2\/\d{4}\.png: resolves outside the dataset root /);
    await rm(folder);
    await rename(`${folder}.moved`, folder);

    await rm(imagePath(4));
    await refusal(new RegExp(`^1/0004\\.png: no such file in the dataset root ${dataset.root}$`));
    await writeImage(imagePath(4), 1 + 4);
    assertRowsMatchKeys(await load({}));
  });
});
