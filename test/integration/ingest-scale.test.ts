import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { beginBulkLoad, isAttached, samplesTable } from '../../lib/data/bulk-load.js';
import { getDataset, registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { ingestFiles, type IngestOutcome } from '../../lib/data/ingest.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';

const CRASH = fileURLToPath(new URL('../helpers/bulk-crash.ts', import.meta.url));
const FORMAT = syntheticFormat(3, 4);

let db: TestPostgres;
let dir: string;
/** The source files: f00..f07, with f03 truncated (rejected) and timestamps that run backwards in f05. */
let source: string;
const FILES = Array.from({ length: 8 }, (_, i) => `f${String(i).padStart(2, '0')}.bin`);

async function dataset(name: string): Promise<Dataset> {
  const root = path.join(dir, name);
  await cp(source, root, { recursive: true });
  return registerDataset(db.pool, { name, root, format: FORMAT });
}

/** Every stored sample of a dataset as [key, file path, index in file, label, ts], in key order. */
async function stored(d: Dataset): Promise<unknown[][]> {
  const { rows } = await db.pool.query({
    text: `SELECT s.sample_key, f.path, s.index_in_file, s.label, s.ts FROM samples s JOIN files f USING (file_id)
           WHERE s.dataset_id = $1 ORDER BY s.sample_key`,
    values: [d.id],
    rowMode: 'array',
  });
  return rows;
}

const summary = (outcomes: IngestOutcome[]) => outcomes.map((o) => (o.status === 'ingested' ? [o.path, o.batch.firstKey, o.batch.lastKey] : [o.path, o.status]));

/** Names of the indexes on the dataset's hash leaves. */
async function leafIndexes(d: Dataset): Promise<string[]> {
  const { rows } = await db.pool.query(`SELECT indexname FROM pg_indexes WHERE tablename LIKE $1 ORDER BY 1`, [`${samplesTable(d)}_h%`]);
  return rows.map((r) => r.indexname);
}

before(async () => {
  [db, dir] = await Promise.all([startTestPostgres(), mkdtemp(path.join(os.tmpdir(), 'tideline-ingest-scale-'))]);
  source = path.join(dir, 'source');
  for (const [i, file] of FILES.entries()) {
    const spanS = i === 5 ? -500 : 500;
    await writeBlobFile(source, file, { samples: 200 + 37 * i, features: 3, numClasses: 4, startTs: 10_000 + 1000 * i, spanS, seed: i });
  }
  await writeFile(path.join(source, FILES[3]!), Buffer.alloc(FORMAT.recordSize * 5 + 3));
});
after(async () => {
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('ingestion at scale', () => {
  let sequential: Dataset;
  let expected: unknown[][];

  before(async () => {
    sequential = await dataset('sequential');
    await ingestFiles(db.pool, sequential, FILES);
    expected = await stored(sequential);
  });

  it('gives the same keys and rows with files scanned in parallel, and a rejected file leaves no gap', async () => {
    for (const parallel of [2, 4, 16]) {
      const d = await dataset(`parallel${parallel}`);
      const outcomes = await ingestFiles(db.pool, d, FILES, { parallel });
      assert.equal(outcomes[3]!.status, 'rejected');
      assert.match((outcomes[3] as Extract<IngestOutcome, { status: 'rejected' }>).error.message, /^f03\.bin: byte 120: truncated record/);
      const keys = outcomes.filter((o) => o.status === 'ingested').map((o) => o.batch);
      keys.forEach((b, i) => assert.equal(b.firstKey, i === 0 ? 1 : keys[i - 1]!.lastKey + 1));
      assert.deepEqual(await stored(d), expected, `parallel ${parallel}`);
      const files = await db.pool.query('SELECT path FROM files WHERE dataset_id = $1 ORDER BY first_key', [d.id]);
      assert.deepEqual(files.rows.map((r) => r.path), FILES.filter((f) => f !== 'f03.bin'));
    }
  });

  it('keeps ingest settings with the dataset and updates them on re-registration', async () => {
    const config = { name: 'settings', root: path.join(dir, 'settings'), format: FORMAT };
    await mkdir(config.root);
    assert.deepEqual((await registerDataset(db.pool, config)).ingest, {});
    const updated = await registerDataset(db.pool, { ...config, ingest: { parallel: 6, pollSeconds: 0.5 } });
    assert.deepEqual(updated.ingest, { parallel: 6, pollSeconds: 0.5 });
    assert.deepEqual(await getDataset(db.pool, 'settings'), updated);
  });

  it('reports a missing file through onError and goes on with the others', async () => {
    const d = await dataset('missing');
    const errors: string[] = [];
    const outcomes = await ingestFiles(db.pool, d, [FILES[0]!, 'gone.bin', ...FILES.slice(1)], {
      parallel: 3,
      onError: (file, e) => errors.push(`${file}: ${(e as Error).message}`),
    });
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^gone\.bin: .*no such file/);
    assert.deepEqual(await stored(d), expected);
    assert.equal(outcomes.length, FILES.length);
    await assert.rejects(ingestFiles(db.pool, await dataset('missing-throws'), ['gone.bin'], { parallel: 2 }), /no such file/);
  });

  it('bulk-loads a backlog and builds the index afterwards', async () => {
    const d = await dataset('bulk');
    const before = await leafIndexes(sequential);
    assert.equal(before.length, 4);
    const outcomes = await ingestFiles(db.pool, d, FILES, { bulk: true, parallel: 4 });
    assert.deepEqual(summary(outcomes), summary(await ingestFiles(db.pool, await dataset('bulk-reference'), FILES)));
    assert.ok(await isAttached(db.pool, samplesTable(d)));
    assert.deepEqual(await leafIndexes(d), before.map((name) => name.replace(samplesTable(sequential), samplesTable(d))));
    assert.deepEqual(await stored(d), expected);
    // The primary key is back: a duplicate key is refused.
    await assert.rejects(
      db.pool.query(`INSERT INTO samples VALUES ($1, 1, 1, 0, 0, 0)`, [d.id]),
      /duplicate key value violates unique constraint/,
    );
  });

  it('finishes an interrupted backfill on the next ingest, with no duplicate or missing keys', async () => {
    const d = await dataset('crashed');
    const child = spawn(process.execPath, ['--import', 'tsx', CRASH, db.url, d.name, ...FILES], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const signal = await new Promise((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    assert.equal(signal, 'SIGKILL', stderr);
    assert.equal(await isAttached(db.pool, samplesTable(d)), false, 'the crash left the partition detached');
    assert.deepEqual(await leafIndexes(d), []);

    // The next ingest (the same backlog again) re-attaches with the index, and skips what committed.
    const outcomes = await ingestFiles(db.pool, d, FILES, { parallel: 2 });
    assert.deepEqual(outcomes.slice(0, 2).map((o) => o.status), ['duplicate', 'duplicate']);
    assert.ok(await isAttached(db.pool, samplesTable(d)));
    assert.equal((await leafIndexes(d)).length, 4);
    assert.deepEqual(await stored(d), expected);
  });

  it('re-attaches a dataset left detached before any file committed', async () => {
    const d = await dataset('detached');
    await beginBulkLoad(db.pool, d);
    assert.equal(await isAttached(db.pool, samplesTable(d)), false);
    await ingestFiles(db.pool, d, FILES.slice(0, 2));
    assert.ok(await isAttached(db.pool, samplesTable(d)));
    assert.deepEqual(await stored(d), expected.slice(0, 200 + 237));
  });
});
