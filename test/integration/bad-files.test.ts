import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { parseDatasetConfig, type DatasetConfig } from '../../lib/data/dataset-config.js';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { DataError, IngestError } from '../../lib/data/errors.js';
import { findNewFiles, ingestFiles, type IngestOutcome } from '../../lib/data/ingest.js';
import { listQuarantined } from '../../lib/data/quarantine.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

/** label int32 @0, 3 float32 features @4. */
const RECORD_BYTES = 16;
const binaryFormat = { kind: 'binary', recordSize: RECORD_BYTES, label: { offset: 0, type: 'int32' }, features: { offset: 4, count: 3 }, numClasses: 2 };

function binaryFile(features: number[][]): Buffer {
  const buf = Buffer.alloc(features.length * RECORD_BYTES);
  features.forEach((row, i) => {
    buf.writeInt32LE(i % 2, i * RECORD_BYTES);
    row.forEach((v, f) => buf.writeFloatLE(v, i * RECORD_BYTES + 4 + 4 * f));
  });
  return buf;
}

async function writePng(file: string, shade: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: shade, g: 255 - shade, b: 0 } } }).png().toFile(file);
}

const statuses = (outcomes: IngestOutcome[]) => outcomes.map((o) => `${o.path} ${o.status}`);

describe('bad files: quarantined, named, and never stopping the stream (real PostgreSQL, sharp)', () => {
  let db: TestPostgres;
  let dir: string;

  async function register(name: string, format: unknown, ingest?: DatasetConfig['ingest']): Promise<Dataset> {
    const root = path.join(dir, name);
    await mkdir(root, { recursive: true });
    return registerDataset(db.pool, parseDatasetConfig({ name, root, format, ...(ingest && { ingest }) }));
  }

  async function stored(dataset: Dataset): Promise<{ files: number; samples: number; nextKey: number }> {
    const { rows } = await db.pool.query(
      `SELECT (SELECT count(*) FROM files WHERE dataset_id = $1)::int AS files,
              (SELECT count(*) FROM samples WHERE dataset_id = $1)::int AS samples,
              (SELECT next_key FROM datasets WHERE dataset_id = $1) AS "nextKey"`,
      [dataset.id],
    );
    return rows[0];
  }

  before(async () => {
    db = await startTestPostgres();
    dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-bad-files-'));
  });

  after(async () => {
    await db?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('quarantines a 0-byte image, ingests the rest, and goes on with later ingests', async () => {
    const images = await register('images', { kind: 'image', height: 4, width: 4, label: { from: 'folder' } });
    for (const name of ['a', 'b', 'd', 'e', 'f', 'g']) await writePng(path.join(images.root, '0', `${name}.png`), name.charCodeAt(0));
    // Sorted third: before the fix its decode error stopped the ingest there, and every later ingest with it.
    await writeFile(path.join(images.root, '0', 'c.png'), '');

    const first = await ingestFiles(db.pool, images, await findNewFiles(db.pool, images));
    assert.deepEqual(statuses(first), ['0/a.png ingested', '0/b.png ingested', '0/c.png rejected', '0/d.png ingested', '0/e.png ingested', '0/f.png ingested', '0/g.png ingested']);
    const rejected = first[2] as Extract<IngestOutcome, { status: 'rejected' }>;
    assert.match(rejected.error.message, /^0\/c\.png: empty file/);
    assert.deepEqual(await stored(images), { files: 6, samples: 6, nextKey: 7 });
    const [entry, ...others] = await listQuarantined(db.pool, images.id);
    assert.deepEqual(others, []);
    assert.equal(entry!.path, '0/c.png');
    assert.equal(entry!.sizeBytes, 0);
    assert.match(entry!.reason, /empty file/);

    // Unchanged, the quarantined file is not tried again; a good image added later is ingested.
    assert.deepEqual(await findNewFiles(db.pool, images), []);
    await writePng(path.join(images.root, '0', 'h.png'), 90);
    assert.deepEqual(statuses(await ingestFiles(db.pool, images, await findNewFiles(db.pool, images))), ['0/h.png ingested']);

    // Still undecodable after a change (not a PNG), then fixed: tried again each time it changes.
    await writeFile(path.join(images.root, '0', 'c.png'), 'not a png');
    const garbage = await ingestFiles(db.pool, images, await findNewFiles(db.pool, images));
    assert.deepEqual(statuses(garbage), ['0/c.png rejected']);
    assert.match((await listQuarantined(db.pool, images.id))[0]!.reason, /image does not decode/);
    await writePng(path.join(images.root, '0', 'c.png'), 40);
    await utimes(path.join(images.root, '0', 'c.png'), new Date(), new Date(Date.now() + 5000));
    assert.deepEqual(statuses(await ingestFiles(db.pool, images, await findNewFiles(db.pool, images))), ['0/c.png ingested']);
    assert.deepEqual(await listQuarantined(db.pool, images.id), []);
    assert.deepEqual(await stored(images), { files: 8, samples: 8, nextKey: 9 });
  });

  it('forgets the quarantine entry of a file that is gone', async () => {
    const gone = await register('gone', binaryFormat);
    await writeFile(path.join(gone.root, 'empty.bin'), '');
    assert.deepEqual(statuses(await ingestFiles(db.pool, gone, await findNewFiles(db.pool, gone))), ['empty.bin rejected']);
    await rm(path.join(gone.root, 'empty.bin'));
    assert.deepEqual(await findNewFiles(db.pool, gone), []);
    assert.deepEqual(await listQuarantined(db.pool, gone.id), []);
  });

  it('ingests all or nothing with ingest.strict, failing on the first bad file', async () => {
    const strict = await register('strict', binaryFormat, { strict: true });
    await writeFile(path.join(strict.root, 'a.bin'), binaryFile([[1, 2, 3]]));
    await writeFile(path.join(strict.root, 'b.bin'), Buffer.alloc(RECORD_BYTES + 3));
    await writeFile(path.join(strict.root, 'c.bin'), binaryFile([[4, 5, 6]]));
    const seen: IngestOutcome[] = [];
    await assert.rejects(
      ingestFiles(db.pool, strict, await findNewFiles(db.pool, strict), { onOutcome: (o) => seen.push(o) }),
      (e: unknown) => e instanceof IngestError && /^b\.bin: byte 16: truncated record/.test(e.message),
    );
    assert.equal(seen.length, 0, "nothing reported before the call commits");
    assert.deepEqual(await stored(strict), { files: 0, samples: 0, nextKey: 1 });
    assert.deepEqual(await listQuarantined(db.pool, strict.id), []);

    await rm(path.join(strict.root, 'b.bin'));
    const outcomes = await ingestFiles(db.pool, strict, await findNewFiles(db.pool, strict), { onOutcome: (o) => seen.push(o) });
    assert.deepEqual(statuses(outcomes), ['a.bin ingested', 'c.bin ingested']);
    assert.deepEqual(seen, outcomes);
    assert.deepEqual(await stored(strict), { files: 2, samples: 2, nextKey: 3 });
  });

  it('rejects NaN and ±Inf binary features naming the file, record and feature, as CSV does', async () => {
    const floats = await register('floats', binaryFormat);
    await writeFile(path.join(floats.root, 'nan.bin'), binaryFile([[0, 1, 2], [3, 4, 5], [6, Number.NaN, 8]]));
    await writeFile(path.join(floats.root, 'inf.bin'), binaryFile([[Number.NEGATIVE_INFINITY, 1, 2]]));
    await writeFile(path.join(floats.root, 'ok.bin'), binaryFile([[0, 1, 2]]));
    const outcomes = await ingestFiles(db.pool, floats, await findNewFiles(db.pool, floats));
    assert.deepEqual(statuses(outcomes), ['inf.bin rejected', 'nan.bin rejected', 'ok.bin ingested']);
    const messages = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.error.message] : []));
    assert.deepEqual(messages, ['inf.bin: byte 4: feature[0] is -Infinity in record 0', 'nan.bin: byte 40: feature[1] is NaN in record 2']);
  });

  it('rejects invalid UTF-8 in text and CSV files naming the line, never replacing it', async () => {
    const text = await register('text', { kind: 'text' });
    await writeFile(path.join(text.root, 'news.txt'), Buffer.concat([Buffer.from('0\tfine\n1\talso fine\n1\tbad '), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]));
    const [textOutcome] = await ingestFiles(db.pool, text, ['news.txt']);
    assert.equal(textOutcome!.status, 'rejected');
    assert.equal((textOutcome as Extract<IngestOutcome, { status: 'rejected' }>).error.message, 'news.txt: line 3: invalid UTF-8');

    const csv = await register('csv', { kind: 'csv', labelColumn: 'label', featureColumns: ['x'] });
    await writeFile(path.join(csv.root, 'rows.csv'), Buffer.concat([Buffer.from('label,x,note\n0,1.5,ok\n1,2.5,'), Buffer.from([0xff]), Buffer.from('\n')]));
    const [csvOutcome] = await ingestFiles(db.pool, csv, ['rows.csv']);
    assert.equal((csvOutcome as Extract<IngestOutcome, { status: 'rejected' }>).error.message, 'rows.csv: line 3: invalid UTF-8');
  });

  it('names a file it cannot read and goes on with the others', async () => {
    const unreadable = await register('unreadable', binaryFormat);
    await writeFile(path.join(unreadable.root, 'a.bin'), binaryFile([[1, 2, 3]]));
    await mkdir(path.join(unreadable.root, 'b.bin'));
    const errors: string[] = [];
    const outcomes = await ingestFiles(db.pool, unreadable, ['b.bin', 'a.bin'], { onError: (_file, e) => errors.push((e as Error).message) });
    assert.deepEqual(statuses(outcomes), ['a.bin ingested']);
    assert.deepEqual(errors, ['b.bin: not a regular file']);
  });

  it('refuses to register a dataset whose root does not exist, naming the folder', async () => {
    const missing = path.join(dir, 'no-such-folder');
    await assert.rejects(
      registerDataset(db.pool, { name: 'missing', root: missing, format: parseDatasetConfig({ name: 'x', root: '/', format: binaryFormat }).format }),
      (e: unknown) => e instanceof DataError && e.message.includes(`root folder ${missing} does not exist`),
    );
    const file = path.join(dir, 'a-file');
    await writeFile(file, '');
    await assert.rejects(
      registerDataset(db.pool, { name: 'file-root', root: file, format: parseDatasetConfig({ name: 'x', root: '/', format: binaryFormat }).format }),
      (e: unknown) => e instanceof DataError && e.message.includes(`root ${file} is not a folder`),
    );
    const { rowCount } = await db.pool.query(`SELECT 1 FROM datasets WHERE name IN ('missing', 'file-root')`);
    assert.equal(rowCount, 0);
  });

  it('skips symlinks out of the dataset root with a warning naming them, and refuses them by name', async () => {
    const linked = await register('linked', binaryFormat);
    const outside = path.join(dir, 'outside-linked');
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, 'secret.bin'), binaryFile([[1, 2, 3]]));
    await writeFile(path.join(linked.root, 'a.bin'), binaryFile([[4, 5, 6]]));
    await symlink(path.join(outside, 'secret.bin'), path.join(linked.root, 'file-link.bin'));
    await symlink(outside, path.join(linked.root, 'folder-link'));
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => {
      if (w.code === 'TIDELINE_SYMLINK_OUTSIDE_ROOT') warnings.push(w.message);
    };
    process.on('warning', onWarning);
    try {
      assert.deepEqual(await findNewFiles(db.pool, linked), ['a.bin']);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    assert.equal(warnings.length, 2, warnings.join('\n'));
    for (const name of ['file-link.bin', 'folder-link']) {
      assert.ok(warnings.some((w) => w.startsWith(`${path.join(linked.root, name)}: a symlink to `) && w.includes('outside the dataset root')), name);
    }

    const errors: string[] = [];
    const outcomes = await ingestFiles(db.pool, linked, ['file-link.bin', 'folder-link/secret.bin', 'a.bin'], {
      onError: (_file, e) => errors.push((e as Error).message),
    });
    assert.deepEqual(statuses(outcomes), ['a.bin ingested']);
    assert.deepEqual(errors, [
      'file-link.bin: resolves outside the dataset root ' + linked.root,
      'folder-link/secret.bin: resolves outside the dataset root ' + linked.root,
    ]);
    assert.deepEqual(await stored(linked), { files: 1, samples: 1, nextKey: 2 });
  });
});
