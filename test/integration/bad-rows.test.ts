import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseDatasetConfig, type DatasetConfig, type TextFormat } from '../../lib/data/dataset-config.js';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { featureSource, picksOf } from '../../lib/data/formats/index.js';
import { tokenIds } from '../../lib/data/formats/text.js';
import { ingestFiles, type IngestOutcome } from '../../lib/data/ingest.js';
import { listQuarantined } from '../../lib/data/quarantine.js';
import { filesWithSkippedRows } from '../../lib/data/skipped-rows.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

const trips = { kind: 'csv', labelColumn: 'label', featureColumns: ['speed', 'distance'], timestampColumn: 'time', numClasses: 2 };
// Lines 3, 5 and 6 are bad: NA and an empty field in "distance", a missing field.
const TRIPS_CSV = ['time,speed,distance,label', '100,1.5,10,0', '101,2,NA,1', '102,2.5,20,1', '103,3,,0', '104,3.5', '105,4,30,0', ''].join('\n');

type Ingested = Extract<IngestOutcome, { status: 'ingested' }>;

describe('bad rows: skipped with ingest.badRows "skip", counted and named (real PostgreSQL)', () => {
  let db: TestPostgres;
  let dir: string;

  async function register(name: string, format: unknown, ingest?: DatasetConfig['ingest']): Promise<Dataset> {
    const root = path.join(dir, name);
    await mkdir(root, { recursive: true });
    return registerDataset(db.pool, parseDatasetConfig({ name, root, format, ...(ingest && { ingest }) }));
  }

  /** The dataset's samples in key order, with their file's path and row index. */
  async function samples(dataset: Dataset): Promise<{ key: number; path: string; index: number; label: number; ts: number }[]> {
    const { rows } = await db.pool.query(
      `SELECT s.sample_key::int AS key, f.path, s.index_in_file AS index, s.label, s.ts::int AS ts
         FROM samples s JOIN files f USING (file_id) WHERE s.dataset_id = $1 ORDER BY s.sample_key`,
      [dataset.id],
    );
    return rows;
  }

  before(async () => {
    db = await startTestPostgres();
    dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-bad-rows-'));
  });

  after(async () => {
    await db?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('skips CSV rows with NA, empty or missing fields, records why, and keeps keys dense', async () => {
    const dataset = await register('trips-skip', trips, { badRows: 'skip' });
    await writeFile(path.join(dataset.root, 'a.csv'), TRIPS_CSV);
    await writeFile(path.join(dataset.root, 'b.csv'), 'time,speed,distance,label\n200,5,50,1\n');

    const [a, b] = (await ingestFiles(db.pool, dataset, ['a.csv', 'b.csv'])) as Ingested[];
    assert.equal(a!.status, 'ingested');
    assert.deepEqual(a!.skipped, {
      count: 3,
      examples: [
        { line: 3, column: 'distance', reason: 'feature "NA" in column "distance" (2) is not a number' },
        { line: 5, column: 'distance', reason: 'feature "" in column "distance" (2) is not a number' },
        { line: 6, reason: 'expected 4 columns, found 2' },
      ],
    });
    assert.deepEqual([a!.batch.firstKey, a!.batch.lastKey, a!.batch.count], [1, 3, 3]);
    assert.equal(b!.skipped, undefined);
    assert.deepEqual([b!.batch.firstKey, b!.batch.lastKey], [4, 4]);

    const stored = await samples(dataset);
    assert.deepEqual(stored.map((s) => s.key), [1, 2, 3, 4]);
    assert.deepEqual(stored.map((s) => [s.path, s.index, s.label, s.ts]), [['a.csv', 0, 0, 100], ['a.csv', 1, 1, 102], ['a.csv', 2, 0, 105], ['b.csv', 0, 1, 200]]);

    // The loader reads the kept rows' features by the indexes ingestion stored.
    const { rows: [file] } = await db.pool.query('SELECT file_id, size_bytes FROM files WHERE dataset_id = $1 AND path = $2', [dataset.id, 'a.csv']);
    const out = new Float32Array(6);
    const csvFile = { fileId: file.file_id, root: dataset.root, absolute: path.join(dataset.root, 'a.csv'), relative: 'a.csv', sizeBytes: Number(file.size_bytes) };
    await featureSource(dataset.format).read(csvFile, picksOf(stored.slice(0, 3).map((s, row) => ({ index: s.index, row }))), out);
    assert.deepEqual([...out], [1.5, 10, 2.5, 20, 4, 30]);

    // What `tide dataset show` lists.
    assert.deepEqual(await filesWithSkippedRows(db.pool, dataset.id), [{ path: 'a.csv', ...a!.skipped! }]);
    assert.deepEqual(await listQuarantined(db.pool, dataset.id), []);
  });

  it("quarantines the same file under 'reject' (the default), and a file with no good row under 'skip'", async () => {
    const rejecting = await register('trips-reject', trips);
    await writeFile(path.join(rejecting.root, 'a.csv'), TRIPS_CSV);
    const [outcome] = await ingestFiles(db.pool, rejecting, ['a.csv']);
    assert.equal(outcome!.status, 'rejected');
    assert.deepEqual((await listQuarantined(db.pool, rejecting.id)).map((q) => q.reason), ['line 3: feature "NA" in column "distance" (2) is not a number']);
    assert.deepEqual(await samples(rejecting), []);

    const skipping = await register('trips-all-bad', trips, { badRows: 'skip' });
    await writeFile(path.join(skipping.root, 'bad.csv'), 'time,speed,distance,label\n1,2,NA,0\n2,3,NA,1\n');
    const [allBad] = await ingestFiles(db.pool, skipping, ['bad.csv']);
    assert.equal(allBad!.status, 'rejected');
    assert.deepEqual((await listQuarantined(db.pool, skipping.id)).map((q) => q.reason), [
      'line 2: feature "NA" in column "distance" (2) is not a number (every one of its 2 rows is bad)',
    ]);
    assert.deepEqual(await filesWithSkippedRows(db.pool, skipping.id), []);
  });

  it('skips malformed text lines, and the loader reads the kept lines by their index', async () => {
    const format = { kind: 'text', timestamp: true, numClasses: 3, maxTokens: 2 };
    const dataset = await register('news-skip', format, { badRows: 'skip' });
    await writeFile(path.join(dataset.root, 'n.tsv'), ['1\t10\tgood news', 'no separator here', '7\t11\tlabel out of range', '2\tnoon\tbad time', '0\t12\tfine day', ''].join('\n'));

    const [outcome] = (await ingestFiles(db.pool, dataset, ['n.tsv'])) as Ingested[];
    assert.deepEqual(outcome!.skipped, {
      count: 3,
      examples: [
        { line: 2, reason: 'no separator "\\t" after the label' },
        { line: 3, column: 'label', reason: 'label 7 out of range [0, 3)' },
        { line: 4, column: 'timestamp', reason: 'timestamp "noon" is not an integer number of seconds' },
      ],
    });
    const stored = await samples(dataset);
    assert.deepEqual(stored.map((s) => [s.key, s.index, s.label, s.ts]), [[1, 0, 1, 10], [2, 4, 0, 12]]);

    const { rows: [file] } = await db.pool.query('SELECT file_id, size_bytes FROM files WHERE dataset_id = $1', [dataset.id]);
    const tokens = new Int32Array(4);
    const textFile = { fileId: file.file_id, root: dataset.root, absolute: path.join(dataset.root, 'n.tsv'), relative: 'n.tsv', sizeBytes: Number(file.size_bytes) };
    await featureSource(dataset.format).read(textFile, picksOf([{ index: 0, row: 0 }, { index: 4, row: 1 }]), new Float32Array(0), tokens);
    const expected = new Int32Array(4);
    tokenIds(dataset.format as TextFormat, 'good news', expected, 0);
    tokenIds(dataset.format as TextFormat, 'fine day', expected, 2);
    assert.deepEqual(tokens, expected);
  });

  it('skips binary records with a NaN or infinite feature, keeping their record indexes', async () => {
    const format = { kind: 'binary', recordSize: 12, label: { offset: 0, type: 'int32' }, features: { offset: 4, count: 2 }, numClasses: 2 };
    const dataset = await register('records-skip', format, { badRows: 'skip' });
    const values = [[1, 2], [Number.NaN, 3], [4, 5], [6, Infinity]];
    const buf = Buffer.alloc(values.length * 12);
    values.forEach(([x, y], i) => {
      buf.writeInt32LE(i % 2, i * 12);
      buf.writeFloatLE(x!, i * 12 + 4);
      buf.writeFloatLE(y!, i * 12 + 8);
    });
    await writeFile(path.join(dataset.root, 'r.bin'), buf);

    const [outcome] = (await ingestFiles(db.pool, dataset, ['r.bin'])) as Ingested[];
    assert.deepEqual(outcome!.skipped, {
      count: 2,
      examples: [
        { record: 1, column: 'feature[0]', reason: 'feature[0] is NaN in record 1' },
        { record: 3, column: 'feature[1]', reason: 'feature[1] is Infinity in record 3' },
      ],
    });
    assert.deepEqual((await samples(dataset)).map((s) => [s.key, s.index, s.label]), [[1, 0, 0], [2, 2, 0]]);
  });
});
