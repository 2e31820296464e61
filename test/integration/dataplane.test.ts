import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchDescriptor } from '../../policies/batches.js';
import type { Batch } from '../../lib/data/batch.js';
import { listBatches, splitBatch } from '../../lib/data/batches.js';
import { FORMAT_PRESETS, parseDatasetConfig, type DatasetFormat } from '../../lib/data/dataset-config.js';
import { getDataset, getDatasetById, registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { DataError } from '../../lib/data/errors.js';
import { findNewFiles, ingestFile, ingestFiles, type IngestOutcome } from '../../lib/data/ingest.js';
import { listQuarantined } from '../../lib/data/quarantine.js';
import { countHoldout, countTrainingSet, evaluationBatches, trainingBatches } from '../../lib/data/loader.js';
import { writeTrainingSet } from '../../lib/data/selection.js';
import { watchDataset } from '../../lib/data/watcher.js';
import { copyOut } from '../../lib/db/copy-out.js';
import { migrate } from '../../lib/db/migrate.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

const T0 = 1_700_000_000;
/** label int32 @0, ts int64 @4, 4 float32 features @12: [file number, index in file, label + 0.25, ts - T0]. */
const binaryFormat: DatasetFormat = {
  kind: 'binary',
  recordSize: 28,
  byteOrder: 'little',
  label: { offset: 0, type: 'int32' },
  timestamp: { offset: 4, type: 'int64' },
  features: { offset: 12, count: 4 },
  numClasses: 5,
};

interface Sample {
  label: number;
  ts: number;
}

/** File k's records: timestamps scrambled with ties, so ingestion has to sort them (stably). */
function binaryRecords(k: number, n: number): Sample[] {
  return Array.from({ length: n }, (_, i) => ({ label: (i * 7 + k) % 5, ts: T0 + k * 10_000 + Math.floor(((i * 37) % n) / 2) }));
}

function encodeBinary(k: number, records: Sample[]): Buffer {
  const buf = Buffer.alloc(records.length * 28);
  records.forEach(({ label, ts }, i) => {
    buf.writeInt32LE(label, i * 28);
    buf.writeBigInt64LE(BigInt(ts), i * 28 + 4);
    [k, i, label + 0.25, ts - T0].forEach((v, f) => buf.writeFloatLE(v, i * 28 + 12 + 4 * f));
  });
  return buf;
}

let db: TestPostgres;
let dir: string;
/** Generated records by `${file number}/${index in file}`. */
const expected = new Map<string, Sample>();

async function writeBinaryFile(root: string, relative: string, k: number, n: number): Promise<void> {
  const records = binaryRecords(k, n);
  records.forEach((r, i) => expected.set(`${k}/${i}`, r));
  await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
  await writeFile(path.join(root, relative), encodeBinary(k, records));
}

/** [file number, index in file] of each row, checking labels, features and weights against the files. */
function decodeRows(batches: Batch[]): [number, number][] {
  const rows: [number, number][] = [];
  for (const b of batches) {
    assert.equal(b.features, 4);
    assert.equal(b.x.length, b.size * 4);
    for (let r = 0; r < b.size; r++) {
      const [k, i, labelFeature, dt] = b.x.subarray(r * 4, r * 4 + 4);
      const sample = expected.get(`${k}/${i}`);
      assert.ok(sample, `unexpected record ${k}/${i}`);
      assert.equal(b.y[r], sample.label);
      assert.equal(labelFeature, sample.label + 0.25);
      assert.equal(dt, sample.ts - T0);
      assert.equal(b.w[r], 1);
      rows.push([k!, i!]);
    }
  }
  return rows;
}

async function collect(batches: AsyncIterable<Batch>): Promise<Batch[]> {
  const all: Batch[] = [];
  for await (const b of batches) all.push(b);
  return all;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ingested = (o: IngestOutcome): BatchDescriptor => {
  assert.equal(o.status, 'ingested', JSON.stringify(o));
  return (o as Extract<IngestOutcome, { status: 'ingested' }>).batch;
};

before(async () => {
  [db, dir] = await Promise.all([startTestPostgres(), mkdtemp(path.join(os.tmpdir(), 'tideline-dataplane-'))]);
});
after(async () => {
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('data plane', () => {
  let bin: Dataset;
  let csv: Dataset;
  const batches: BatchDescriptor[] = [];
  /** sample_key → "file number/index in file" for the binary dataset. */
  const byKey = new Map<number, string>();

  it('reads query results through binary COPY into typed columns', async () => {
    const n = 100_003;
    const { length, columns: [keys, ints, reals] } = await copyOut(
      db.pool, `SELECT g::bigint * 4294967311, g::int, (g / 4.0)::real FROM generate_series(-2, ${n - 3}) g ORDER BY g`, ['int8', 'int4', 'float4'], n + 5,
    );
    assert.equal(length, n);
    for (const i of [0, 1, 2, 77_777, n - 1]) {
      const g = i - 2;
      assert.equal(keys[i], g * 4294967311);
      assert.equal(ints[i], g);
      assert.equal(reals[i], g / 4);
    }
    await assert.rejects(copyOut(db.pool, 'SELECT 1::numeric', ['int4'], 1), /COPY column 1: expected int4/);
    await assert.rejects(copyOut(db.pool, 'SELECT no_such_column', ['int4'], 1), /no_such_column/);
    // The connection goes back to the pool usable after a failed COPY.
    assert.equal((await db.pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
  });

  it('migrations are idempotent and safe to run concurrently', async () => {
    assert.deepEqual(await Promise.all([migrate(db.pool), migrate(db.pool)]), [[], []]);
  });

  it('registers a dataset with its hash-partitioned samples partition', async () => {
    const config = { name: 'bin', root: path.join(dir, 'bin'), format: binaryFormat, hashPartitions: 3 };
    await mkdir(config.root);
    bin = await registerDataset(db.pool, config);
    const { rows } = await db.pool.query(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`,
      [`samples_d${bin.id}`],
    );
    assert.deepEqual(rows.map((r) => r.relname), [0, 1, 2].map((r) => `samples_d${bin.id}_h${r}`));

    assert.deepEqual(await registerDataset(db.pool, config), bin);
    assert.deepEqual(await getDataset(db.pool, 'bin'), bin);
    assert.deepEqual(await getDatasetById(db.pool, bin.id), bin);
    assert.equal(await getDataset(db.pool, 'nope'), undefined);
    await assert.rejects(registerDataset(db.pool, { ...config, hashPartitions: 4 }), (e: unknown) => e instanceof DataError && /"bin"/.test(e.message));
  });

  it('ingests binary files with dense keys that follow time within each file', async () => {
    await writeBinaryFile(bin.root, 'train/p01.bin', 1, 300);
    await writeBinaryFile(bin.root, 'train/p02.bin', 2, 450);
    await writeFile(path.join(bin.root, 'train/p03.bin'), encodeBinary(3, binaryRecords(3, 10)).subarray(0, 28 * 6 + 5));
    await writeBinaryFile(bin.root, 'train/p04.bin', 4, 250);

    const seen: IngestOutcome[] = [];
    const outcomes = await ingestFiles(db.pool, bin, ['train/p01.bin', path.join(bin.root, 'train/p02.bin'), 'train/p03.bin', 'train/p04.bin'], {
      onOutcome: (o) => seen.push(o),
    });
    assert.deepEqual(seen, outcomes);
    assert.deepEqual(outcomes.map((o) => [o.status, o.path]), [
      ['ingested', 'train/p01.bin'],
      ['ingested', 'train/p02.bin'],
      ['rejected', 'train/p03.bin'],
      ['ingested', 'train/p04.bin'],
    ]);
    const rejected = outcomes[2] as Extract<IngestOutcome, { status: 'rejected' }>;
    assert.equal(rejected.error.file, 'train/p03.bin');
    assert.equal(rejected.error.offset, 168);
    assert.match(rejected.error.message, /^train\/p03\.bin: byte 168: truncated record/);

    batches.push(...[outcomes[0]!, outcomes[1]!, outcomes[3]!].map(ingested));
    const t = (k: number, n: number) => binaryRecords(k, n).map((r) => r.ts);
    assert.deepEqual(batches, [
      { datasetId: bin.id, firstKey: 1, lastKey: 300, count: 300, minTs: Math.min(...t(1, 300)), maxTs: Math.max(...t(1, 300)) },
      { datasetId: bin.id, firstKey: 301, lastKey: 750, count: 450, minTs: Math.min(...t(2, 450)), maxTs: Math.max(...t(2, 450)) },
      // The rejected file used no keys.
      { datasetId: bin.id, firstKey: 751, lastKey: 1000, count: 250, minTs: Math.min(...t(4, 250)), maxTs: Math.max(...t(4, 250)) },
    ]);

    const { rows } = await db.pool.query(
      `SELECT s.sample_key, s.index_in_file, s.label, s.ts, f.path FROM samples s JOIN files f USING (file_id)
       WHERE s.dataset_id = $1 ORDER BY s.sample_key`,
      [bin.id],
    );
    assert.deepEqual(rows.map((r) => r.sample_key), Array.from({ length: 1000 }, (_, i) => i + 1));
    for (const [k, file] of [[1, 'train/p01.bin'], [2, 'train/p02.bin'], [4, 'train/p04.bin']] as const) {
      const ofFile = rows.filter((r) => r.path === file);
      assert.deepEqual(ofFile.map((r) => r.index_in_file).sort((a, b) => a - b), [...ofFile.keys()]);
      for (let j = 0; j < ofFile.length; j++) {
        const r = ofFile[j]!;
        const sample = expected.get(`${k}/${r.index_in_file}`)!;
        assert.deepEqual([r.label, r.ts], [sample.label, sample.ts]);
        byKey.set(r.sample_key, `${k}/${r.index_in_file}`);
        // Keys follow time; equal timestamps keep file order.
        const prev = ofFile[j - 1];
        if (prev) assert.ok(prev.ts < r.ts || (prev.ts === r.ts && prev.index_in_file < r.index_in_file));
      }
    }
    const stored = await db.pool.query('SELECT path FROM files WHERE dataset_id = $1 ORDER BY path', [bin.id]);
    assert.deepEqual(stored.rows.map((r) => r.path), ['train/p01.bin', 'train/p02.bin', 'train/p04.bin']);
  });

  it('treats a second ingest of the same file as a duplicate', async () => {
    for (const file of ['train/p01.bin', path.join(bin.root, 'train', '..', 'train', 'p02.bin')]) {
      assert.equal((await ingestFile(db.pool, bin, file)).status, 'duplicate');
    }
    const { rows } = await db.pool.query('SELECT count(*) AS n, max(sample_key) AS k FROM samples WHERE dataset_id = $1', [bin.id]);
    assert.deepEqual(rows[0], { n: 1000, k: 1000 });
    assert.equal((await db.pool.query('SELECT next_key FROM datasets WHERE dataset_id = $1', [bin.id])).rows[0].next_key, 1001);
  });

  it('refuses paths that escape the dataset root', async () => {
    await writeFile(path.join(dir, 'outside.bin'), encodeBinary(9, binaryRecords(9, 3)));
    await symlink(path.join(dir, 'outside.bin'), path.join(bin.root, 'train/link.bin'));
    for (const file of ['../outside.bin', path.join(dir, 'outside.bin'), 'train/link.bin', 'train/../../outside.bin']) {
      await assert.rejects(ingestFile(db.pool, bin, file), DataError, file);
    }
    await assert.rejects(ingestFile(db.pool, bin, 'train/missing.bin'), /no such file/);
  });

  it('keeps keys dense when files are ingested concurrently', async () => {
    const root = path.join(dir, 'conc');
    await mkdir(root);
    const conc = await registerDataset(db.pool, { name: 'conc', root, format: binaryFormat });
    await Promise.all([writeBinaryFile(root, 'a.bin', 11, 120), writeBinaryFile(root, 'b.bin', 12, 80), writeBinaryFile(root, 'c.bin', 13, 50)]);
    const outcomes = await Promise.all(['a.bin', 'b.bin', 'c.bin'].map((f) => ingestFile(db.pool, conc, f)));
    const ranges = outcomes.map(ingested).sort((a, b) => a.firstKey - b.firstKey);
    assert.equal(ranges[0]!.firstKey, 1);
    ranges.forEach((r, i) => i > 0 && assert.equal(r.firstKey, ranges[i - 1]!.lastKey + 1));
    assert.equal(ranges[2]!.lastKey, 250);
  });

  it('lists batches after a key and splits them at time boundaries', async () => {
    assert.deepEqual(await listBatches(db.pool, bin.id, 0, 10), batches);
    assert.deepEqual(await listBatches(db.pool, bin.id, 1, 10), batches.slice(1));
    assert.deepEqual(await listBatches(db.pool, bin.id, 300, 1), [batches[1]]);
    assert.deepEqual(await listBatches(db.pool, bin.id, 1000, 10), []);

    const batch = batches[1]!;
    const b1 = T0 + 20_000 + 50;
    const b2 = T0 + 20_000 + 120;
    const segments = await splitBatch(db.pool, batch, [b2, b1, T0 + 90_000]);
    const stamps = binaryRecords(2, 450).map((r) => r.ts);
    const within = (lo: number, hi: number) => stamps.filter((ts) => ts >= lo && ts < hi);
    const expectedSegments = [within(0, b1), within(b1, b2), within(b2, T0 + 90_000)];
    assert.equal(segments.length, 3);
    let next = batch.firstKey;
    segments.forEach((s, i) => {
      const ts = expectedSegments[i]!;
      assert.deepEqual(s, { datasetId: bin.id, firstKey: next, lastKey: next + ts.length - 1, count: ts.length, minTs: Math.min(...ts), maxTs: Math.max(...ts) });
      next = s.lastKey + 1;
    });
    assert.equal(next, batch.lastKey + 1);
    assert.deepEqual(await splitBatch(db.pool, batch, [T0]), [batch]);
    assert.deepEqual(await splitBatch(db.pool, batch, []), [batch]);
  });

  describe('selection and loading', () => {
    const holdout = { fraction: 0.2, seed: 7 };
    let pipelineId: number;
    let trainKeys: number[];
    let heldOutKeys: number[];

    before(async () => {
      const { rows } = await db.pool.query(`INSERT INTO pipelines (name, dataset_id, spec) VALUES ('p', $1, '{}') RETURNING pipeline_id`, [bin.id]);
      pipelineId = rows[0].pipeline_id;
      // Written out here rather than taken from holdout.ts, to check the formula itself.
      const held = await db.pool.query(
        `SELECT sample_key FROM samples WHERE dataset_id = $1 AND (hashint8extended(sample_key, 7) & 4294967295) < floor(0.2 * 2^32) ORDER BY 1`,
        [bin.id],
      );
      heldOutKeys = held.rows.map((r) => r.sample_key);
      const heldOut = new Set(heldOutKeys);
      trainKeys = [...byKey.keys()].filter((k) => !heldOut.has(k)).sort((a, b) => a - b);
      assert.ok(heldOutKeys.length > 150 && heldOutKeys.length < 250, `${heldOutKeys.length} held out`);
    });

    const storedSet = async (triggerId: number) =>
      (await db.pool.query('SELECT sample_key, weight FROM training_samples WHERE pipeline_id = $1 AND trigger_id = $2 ORDER BY 1', [pipelineId, triggerId])).rows;

    it('writes the training set without held-out samples, idempotently', async () => {
      const args = { pipelineId, triggerId: 1, datasetId: bin.id, ranges: [{ firstKey: 700, lastKey: 1000 }, { firstKey: 1, lastKey: 750 }], holdout };
      assert.equal(await writeTrainingSet(db.pool, args), trainKeys.length);
      const first = await storedSet(1);
      assert.deepEqual(first.map((r) => r.sample_key), trainKeys);
      assert.ok(first.every((r) => r.weight === 1));

      assert.equal(await writeTrainingSet(db.pool, args), trainKeys.length);
      assert.deepEqual(await storedSet(1), first);
      assert.equal(await countTrainingSet(db.pool, pipelineId, 1), trainKeys.length);
      assert.equal(await countHoldout(db.pool, bin.id, { firstKey: 1, lastKey: 1000 }, holdout), heldOutKeys.length);

      const narrow = await writeTrainingSet(db.pool, { ...args, triggerId: 2, ranges: [{ firstKey: 301, lastKey: 750 }] });
      assert.equal(narrow, trainKeys.filter((k) => k >= 301 && k <= 750).length);
      assert.equal(await countTrainingSet(db.pool, pipelineId, 1), trainKeys.length);
    });

    it('yields every selected sample exactly once per epoch, with its features and label', async () => {
      const args = { pipelineId, triggerId: 1, batchSize: 64, seed: 11, epoch: 0, partitionSize: 100 };
      const epoch = await collect(trainingBatches(db.pool, bin, args));
      assert.deepEqual(epoch.map((b) => b.size), [...Array(Math.floor(trainKeys.length / 64)).fill(64), trainKeys.length % 64]);
      const rows = decodeRows(epoch).map(([k, i]) => `${k}/${i}`);
      assert.deepEqual([...rows].sort(), trainKeys.map((k) => byKey.get(k)!).sort());
      // Shuffled across the whole set: the first partition's 100 rows come from blocks all over the key range.
      const rank = new Map(trainKeys.map((k, i) => [byKey.get(k)!, i]));
      const firstRanks = rows.slice(0, 100).map((r) => rank.get(r)!);
      assert.ok(Math.max(...firstRanks) - Math.min(...firstRanks) > trainKeys.length / 2, `first 100 rows span ranks ${Math.min(...firstRanks)}..${Math.max(...firstRanks)}`);

      const again = await collect(trainingBatches(db.pool, bin, args));
      assert.deepEqual(again, epoch);
      const otherSeed = decodeRows(await collect(trainingBatches(db.pool, bin, { ...args, seed: 12 }))).map(([k, i]) => `${k}/${i}`);
      const otherEpoch = decodeRows(await collect(trainingBatches(db.pool, bin, { ...args, epoch: 1 }))).map(([k, i]) => `${k}/${i}`);
      for (const other of [otherSeed, otherEpoch]) {
        assert.notDeepEqual(other, rows);
        assert.deepEqual([...other].sort(), [...rows].sort());
      }

      const byDefault = await collect(trainingBatches(db.pool, bin, { ...args, partitionSize: undefined, dropLast: true }));
      assert.equal(byDefault.length, Math.floor(trainKeys.length / 64));
      assert.ok(byDefault.every((b) => b.size === 64));
    });

    it('resumes with skipBatches without changing the order', async () => {
      const args = { pipelineId, triggerId: 1, batchSize: 64, seed: 11, epoch: 3, partitionSize: 100 };
      const full = await collect(trainingBatches(db.pool, bin, args));
      for (const skip of [1, 3, full.length - 1, full.length]) {
        assert.deepEqual(await collect(trainingBatches(db.pool, bin, { ...args, skipBatches: skip })), full.slice(skip), `skip ${skip}`);
      }
      assert.deepEqual(await collect(trainingBatches(db.pool, bin, { ...args, skipBatches: 1000 })), []);
    });

    it('evaluates on exactly the held-out samples of a range, in key order', async () => {
      const range = { firstKey: 200, lastKey: 900 };
      const expectedKeys = heldOutKeys.filter((k) => k >= range.firstKey && k <= range.lastKey);
      const evaluation = await collect(evaluationBatches(db.pool, bin, { range, holdout, batchSize: 32 }));
      assert.ok(evaluation.slice(0, -1).every((b) => b.size === 32));
      assert.deepEqual(decodeRows(evaluation).map(([k, i]) => `${k}/${i}`), expectedKeys.map((k) => byKey.get(k)));
      assert.equal(await countHoldout(db.pool, bin.id, range, holdout), expectedKeys.length);
    });
  });

  it('ingests and loads CSV files', async () => {
    const root = path.join(dir, 'csv');
    await mkdir(root, { recursive: true });
    const rowsOf = (k: number, n: number) => Array.from({ length: n }, (_, i) => ({ ts: T0 + n - i, f1: k * 1000 + i, f2: i / 4, label: i % 3 }));
    const write = async (name: string, k: number, n: number) => {
      const lines = rowsOf(k, n).map((r, i) => `"id ${i}, ""${k}""",${r.ts},${r.f1},"${r.f2}",${r.label}`);
      await writeFile(path.join(root, name), `id,ts,f1,f2,label\r\n${lines.join('\r\n')}\r\n`);
    };
    await write('c1.csv', 1, 40);
    await write('c2.csv', 2, 30);
    await writeFile(path.join(root, 'c3.csv'), 'id,ts,f1,f2,label\n"x",1,2,3,0\n"y",2,3,4\n');
    csv = await registerDataset(db.pool, {
      name: 'csv',
      root,
      format: { kind: 'csv', separator: ',', header: true, quote: '"', labelColumn: 'label', featureColumns: ['f1', 'f2'], timestampColumn: 'ts', numClasses: 3 },
    });
    const outcomes = await ingestFiles(db.pool, csv, await findNewFiles(db.pool, csv));
    assert.deepEqual(outcomes.map((o) => o.status), ['ingested', 'ingested', 'rejected']);
    assert.deepEqual(outcomes.slice(0, 2).map((o) => [ingested(o).firstKey, ingested(o).lastKey]), [[1, 40], [41, 70]]);
    const error = (outcomes[2] as Extract<IngestOutcome, { status: 'rejected' }>).error;
    assert.deepEqual([error.file, error.line], ['c3.csv', 3]);

    // Timestamps descend in the files, so key order is reversed file order.
    const inKeyOrder = [...rowsOf(1, 40).reverse(), ...rowsOf(2, 30).reverse()];
    const all = await collect(evaluationBatches(db.pool, csv, { range: { firstKey: 1, lastKey: 70 }, holdout: { fraction: 1, seed: 0 }, batchSize: 16 }));
    assert.deepEqual(all.flatMap((b) => [...b.x]), inKeyOrder.flatMap((r) => [r.f1, r.f2]));
    assert.deepEqual(all.flatMap((b) => [...b.y]), inKeyOrder.map((r) => r.label));
  });

  describe('criteo layout', () => {
    interface CriteoRecord {
      label: number;
      dense: number[];
      cats: number[];
    }
    /** Record i of file k: categorical ids 0 and 1 are (k, i), so a decoded row names its record. */
    const criteoRecord = (k: number, i: number): CriteoRecord => ({
      label: (i * 3 + k) % 2,
      // Some negative values, which log1p clamps to 0.
      dense: Array.from({ length: 13 }, (_, d) => ((i * 31 + d * 17 + k) % 200) - 3),
      // Hashed-looking ids over the whole int32 range, negatives included.
      cats: [k, i, ...Array.from({ length: 24 }, (_, c) => Math.imul(i * 26 + c + 1, 2654435761) | 0)],
    });
    /** 40 little-endian int32 (160 bytes), or with int64 categorical ids (264 bytes). */
    const encodeCriteo = (records: CriteoRecord[], categorical: 'int32' | 'int64' = 'int32'): Buffer => {
      const size = categorical === 'int32' ? 160 : 264;
      const buf = Buffer.alloc(records.length * size);
      records.forEach((r, i) => {
        const at = i * size;
        buf.writeInt32LE(r.label, at);
        r.dense.forEach((v, d) => buf.writeInt32LE(v, at + 4 + 4 * d));
        r.cats.forEach((v, c) => (categorical === 'int32' ? buf.writeInt32LE(v, at + 56 + 4 * c) : buf.writeBigInt64LE(BigInt(v), at + 56 + 8 * c)));
      });
      return buf;
    };
    const writeCriteo = async (root: string, name: string, k: number, n: number, categorical: 'int32' | 'int64' = 'int32') => {
      await mkdir(root, { recursive: true });
      await writeFile(path.join(root, name), encodeCriteo(Array.from({ length: n }, (_, i) => criteoRecord(k, i)), categorical));
    };

    /** "k/i" of each row, checking labels, log1p dense features, categorical ids and weights against the generated records. */
    const decodeCriteo = (all: Batch[]): string[] => {
      const rows: string[] = [];
      for (const b of all) {
        assert.deepEqual([b.features, b.categoricalCount, b.x.length, b.categorical?.length], [13, 26, b.size * 13, b.size * 26]);
        for (let r = 0; r < b.size; r++) {
          const cats = [...b.categorical!.subarray(r * 26, r * 26 + 26)];
          const record = criteoRecord(cats[0]!, cats[1]!);
          assert.deepEqual(cats, record.cats);
          assert.equal(b.y[r], record.label);
          assert.deepEqual([...b.x.subarray(r * 13, r * 13 + 13)], record.dense.map((v) => Math.fround(Math.log1p(Math.max(0, v)))));
          assert.equal(b.w[r], 1);
          rows.push(`${cats[0]}/${cats[1]}`);
        }
      }
      return rows;
    };

    const holdout = { fraction: 0.25, seed: 3 };
    let criteo: Dataset;
    /** "k/i" of the dataset's samples in key order, and which of them are held out. */
    let inKeyOrder: { key: number; id: string; heldOut: boolean }[];

    before(async () => {
      const root = path.join(dir, 'criteo');
      await mkdir(root);
      criteo = await registerDataset(db.pool, parseDatasetConfig({ name: 'criteo', root, format: { preset: 'criteo' } }));
      assert.deepEqual(criteo.format, FORMAT_PRESETS.criteo);
      await writeCriteo(root, 'day0.bin', 1, 500);
      await writeCriteo(root, 'day1.bin', 2, 300);
      const outcomes = await ingestFiles(db.pool, criteo, await findNewFiles(db.pool, criteo));
      assert.deepEqual(outcomes.map((o) => [o.path, ingested(o).count]), [['day0.bin', 500], ['day1.bin', 300]]);
      const { rows } = await db.pool.query(
        `SELECT s.sample_key, s.index_in_file, s.label, f.path,
                (hashint8extended(s.sample_key, 3) & 4294967295) < floor(0.25 * 2^32) AS held_out
         FROM samples s JOIN files f USING (file_id) WHERE s.dataset_id = $1 ORDER BY s.sample_key`,
        [criteo.id],
      );
      inKeyOrder = rows.map((r) => {
        const k = r.path === 'day0.bin' ? 1 : 2;
        assert.equal(r.label, criteoRecord(k, r.index_in_file).label);
        return { key: r.sample_key, id: `${k}/${r.index_in_file}`, heldOut: r.held_out };
      });
      assert.equal(inKeyOrder.length, 800);
    });

    it('loads shuffled training batches with dense features, labels and categorical ids of each sample', async () => {
      const { rows } = await db.pool.query(`INSERT INTO pipelines (name, dataset_id, spec) VALUES ('criteo', $1, '{}') RETURNING pipeline_id`, [criteo.id]);
      const pipelineId = rows[0].pipeline_id;
      const trainIds = inKeyOrder.filter((s) => !s.heldOut).map((s) => s.id);
      assert.equal(await writeTrainingSet(db.pool, { pipelineId, triggerId: 1, datasetId: criteo.id, ranges: [{ firstKey: 1, lastKey: 800 }], holdout }), trainIds.length);

      const args = { pipelineId, triggerId: 1, batchSize: 50, seed: 5, epoch: 0, partitionSize: 128 };
      const epoch = await collect(trainingBatches(db.pool, criteo, args));
      assert.deepEqual(epoch.map((b) => b.size), [...Array(Math.floor(trainIds.length / 50)).fill(50), trainIds.length % 50].filter((n) => n > 0));
      const order = decodeCriteo(epoch);
      assert.notDeepEqual(order, trainIds);
      assert.deepEqual([...order].sort(), [...trainIds].sort());
      // Shuffled across the whole set, categorical ids included: the first 128 rows come from all over the key range.
      const firstRanks = order.slice(0, 128).map((id) => trainIds.indexOf(id));
      assert.ok(Math.max(...firstRanks) - Math.min(...firstRanks) > trainIds.length / 2, `first 128 rows span ranks ${Math.min(...firstRanks)}..${Math.max(...firstRanks)}`);
      assert.deepEqual(await collect(trainingBatches(db.pool, criteo, args)), epoch);
      assert.deepEqual(await collect(trainingBatches(db.pool, criteo, { ...args, skipBatches: 3 })), epoch.slice(3));
    });

    it('loads held-out samples in key order with their categorical ids', async () => {
      const evaluation = await collect(evaluationBatches(db.pool, criteo, { range: { firstKey: 1, lastKey: 800 }, holdout, batchSize: 64 }));
      assert.deepEqual(decodeCriteo(evaluation), inKeyOrder.filter((s) => s.heldOut).map((s) => s.id));
    });

    it('loads int64 categorical ids and rejects one outside int32 with the file and byte offset', async () => {
      const root = path.join(dir, 'criteo64');
      const format = parseDatasetConfig({
        name: 'criteo64',
        root,
        format: { ...FORMAT_PRESETS.criteo, recordSize: 264, categorical: { offset: 56, count: 26, type: 'int64' } },
      }).format;
      await mkdir(root);
      const wide = await registerDataset(db.pool, { name: 'criteo64', root, format });
      await writeCriteo(root, 'good.bin', 3, 40, 'int64');
      const records = Array.from({ length: 40 }, (_, i) => criteoRecord(4, i));
      const bad = encodeCriteo(records, 'int64');
      bad.writeBigInt64LE(2n ** 31n, 17 * 264 + 56 + 8 * 5);
      await writeFile(path.join(root, 'bad.bin'), bad);

      const outcomes = await ingestFiles(db.pool, wide, ['bad.bin', 'good.bin']);
      assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'ingested']);
      const error = (outcomes[0] as Extract<IngestOutcome, { status: 'rejected' }>).error;
      assert.deepEqual([error.file, error.offset], ['bad.bin', 17 * 264 + 56 + 40]);
      assert.equal(error.message, `bad.bin: byte ${17 * 264 + 96}: categorical[5] 2147483648 out of int32 range in record 17`);

      const all = await collect(evaluationBatches(db.pool, wide, { range: { firstKey: 1, lastKey: 40 }, holdout: { fraction: 1, seed: 0 }, batchSize: 16 }));
      assert.deepEqual(decodeCriteo(all), Array.from({ length: 40 }, (_, i) => `3/${i}`));
    });
  });

  it('finds new files and watches the root for files dropped later', async () => {
    const root = path.join(dir, 'watched');
    await mkdir(root);
    const watched = await registerDataset(db.pool, { name: 'watched', root, format: binaryFormat });
    await writeBinaryFile(root, 'w01.bin', 21, 40);
    await writeBinaryFile(root, 'sub/w00.bin', 20, 10);
    await writeFile(path.join(root, '.hidden.bin'), encodeBinary(0, binaryRecords(0, 1)));
    await writeFile(path.join(root, 'w02.bin.tmp'), encodeBinary(22, binaryRecords(22, 5)));
    await writeFile(path.join(root, 'w03.partial'), '');
    assert.deepEqual(await findNewFiles(db.pool, watched), ['sub/w00.bin', 'w01.bin']);

    const delivered: BatchDescriptor[][] = [];
    const rejected: IngestOutcome[] = [];
    const errors: unknown[] = [];
    const controller = new AbortController();
    const watching = watchDataset(db.pool, watched, {
      intervalMs: 25,
      signal: controller.signal,
      onBatches: (b) => void delivered.push(b),
      onRejected: (o) => rejected.push(o),
      onError: (e) => errors.push(e),
    });
    await waitFor('the initial files', () => delivered.length === 1);
    assert.deepEqual(delivered[0]!.map((b) => [b.firstKey, b.lastKey]), [[1, 10], [11, 50]]);

    // Written aside and renamed, as writers should, so no poll sees a half-written file.
    await writeFile(path.join(root, 'bad.bin.partial'), Buffer.alloc(30));
    await rename(path.join(root, 'bad.bin.partial'), path.join(root, 'bad.bin'));
    await rename(path.join(root, 'w02.bin.tmp'), path.join(root, 'w02.bin'));
    await waitFor('the dropped file', () => delivered.length === 2);
    assert.deepEqual(delivered[1], [{ datasetId: watched.id, firstKey: 51, lastKey: 55, count: 5, minTs: T0 + 220_000, maxTs: T0 + 220_002 }]);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(rejected.map((o) => o.path), ['bad.bin'], 'an unchanged corrupt file is reported once');

    controller.abort();
    await watching;
    assert.deepEqual(errors, []);
    // Quarantined, so no later scan tries the unchanged file again.
    assert.deepEqual(await findNewFiles(db.pool, watched), []);
    assert.deepEqual((await listQuarantined(db.pool, watched.id)).map((q) => q.path), ['bad.bin']);
  });
});
