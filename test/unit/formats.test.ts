import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { categoricalCount, FORMAT_PRESETS, featureCount, parseDatasetConfig, type DatasetFormat } from '../../lib/data/dataset-config.js';
import { DataError, IngestError } from '../../lib/data/errors.js';
import { featureSource, picksOf, scanFile, type StoredFile } from '../../lib/data/formats/index.js';
import { parseCsv } from '../../lib/data/formats/csv.js';

type BinaryFormat = Extract<DatasetFormat, { kind: 'binary' }>;
type CsvFormat = Extract<DatasetFormat, { kind: 'csv' }>;

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-formats-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** label int32 @0, ts int64 @4, 3 float32 features @12: 24-byte records. */
const binary: BinaryFormat = {
  kind: 'binary',
  recordSize: 24,
  byteOrder: 'little',
  label: { offset: 0, type: 'int32' },
  features: { offset: 12, count: 3 },
  timestamp: { offset: 4, type: 'int64' },
  numClasses: 10,
};

function encode(format: BinaryFormat, records: { label: number; ts: number; x: number[] }[]): Buffer {
  const buf = Buffer.alloc(records.length * format.recordSize);
  const le = format.byteOrder === 'little';
  records.forEach((r, i) => {
    const at = i * format.recordSize;
    const { label, timestamp, features } = format;
    if (label.type === 'uint8') buf.writeUInt8(r.label, at + label.offset);
    else if (label.type === 'int32') le ? buf.writeInt32LE(r.label, at + label.offset) : buf.writeInt32BE(r.label, at + label.offset);
    else le ? buf.writeBigInt64LE(BigInt(r.label), at + label.offset) : buf.writeBigInt64BE(BigInt(r.label), at + label.offset);
    if (timestamp?.type === 'int64') le ? buf.writeBigInt64LE(BigInt(r.ts), at + timestamp.offset) : buf.writeBigInt64BE(BigInt(r.ts), at + timestamp.offset);
    if (timestamp?.type === 'float64') le ? buf.writeDoubleLE(r.ts, at + timestamp.offset) : buf.writeDoubleBE(r.ts, at + timestamp.offset);
    r.x.forEach((v, f) => (le ? buf.writeFloatLE(v, at + features.offset + 4 * f) : buf.writeFloatBE(v, at + features.offset + 4 * f)));
  });
  return buf;
}

const records = Array.from({ length: 50 }, (_, i) => ({ label: i % 10, ts: 1_700_000_000 + 50 - i, x: [i, i + 0.5, -i] }));

async function fileOf(name: string, content: Buffer | string): Promise<StoredFile> {
  const absolute = path.join(dir, name);
  await writeFile(absolute, content);
  return { fileId: Math.floor(Math.random() * 1e9), root: dir, absolute, relative: name, sizeBytes: Buffer.byteLength(content) };
}

async function rejection(promise: Promise<unknown>): Promise<IngestError> {
  const error = await promise.then(
    () => assert.fail('expected an IngestError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof IngestError, `expected an IngestError, got ${String(error)}`);
  return error;
}

describe('binary format', () => {
  for (const byteOrder of ['little', 'big'] as const) {
    it(`decodes labels, timestamps and features (${byteOrder} endian)`, async () => {
      const format = { ...binary, byteOrder };
      const file = await fileOf(`ok-${byteOrder}.bin`, encode(format, records));
      const scanned = await scanFile(format, file.absolute, file.relative, 0);
      assert.equal(scanned.count, 50);
      assert.deepEqual([...scanned.labels], records.map((r) => r.label));
      assert.deepEqual([...scanned.timestamps], records.map((r) => r.ts));

      const out = new Float32Array(3 * 3);
      await featureSource(format).read(file, picksOf([{ index: 40, row: 0 }, { index: 3, row: 2 }, { index: 17, row: 1 }]), out);
      assert.deepEqual([...out], [40, 40.5, -40, 17, 17.5, -17, 3, 3.5, -3]);
    });
  }

  it('reads uint8 and int64 labels, float64 timestamps (floored) and falls back to mtime', async () => {
    const format: BinaryFormat = { ...binary, recordSize: 32, label: { offset: 0, type: 'int64' }, timestamp: { offset: 8, type: 'float64' }, features: { offset: 16, count: 3 } };
    const file = await fileOf('wide.bin', encode(format, [{ label: 7, ts: 12.75, x: [1, 2, 3] }]));
    const wide = await scanFile(format, file.absolute, file.relative, 0);
    assert.deepEqual([[...wide.labels], [...wide.timestamps]], [[7], [12]]);

    const noTs: BinaryFormat = { ...binary, recordSize: 13, label: { offset: 0, type: 'uint8' }, features: { offset: 1, count: 3 } };
    delete noTs.timestamp;
    const plain = await fileOf('plain.bin', encode(noTs, [{ label: 200, ts: 0, x: [1, 2, 3] }]));
    await utimes(plain.absolute, 1_650_000_000.9, 1_650_000_000.9);
    const { labels, timestamps } = await scanFile({ ...noTs, numClasses: 256 }, plain.absolute, plain.relative, 1_650_000_000.9);
    assert.deepEqual([[...labels], [...timestamps]], [[200], [1_650_000_000]]);
  });

  it('rejects a truncated file at the offset of the partial record', async () => {
    const file = await fileOf('short.bin', encode(binary, records).subarray(0, 24 * 7 + 10));
    const error = await rejection(scanFile(binary, file.absolute, 'train/short.bin', 0));
    assert.equal(error.file, 'train/short.bin');
    assert.equal(error.offset, 168);
    assert.match(error.message, /^train\/short\.bin: byte 168: truncated record \(size 178 is not a multiple of 24\)$/);
  });

  it('rejects a label out of range at its record', async () => {
    const bad = records.map((r, i) => (i === 12 ? { ...r, label: 10 } : r));
    const file = await fileOf('label.bin', encode(binary, bad));
    const error = await rejection(scanFile(binary, file.absolute, file.relative, 0));
    assert.equal(error.offset, 12 * 24);
    assert.match(error.message, /label\.bin: byte 288: label 10 out of range \[0, 10\)/);
  });

  it('rejects an empty file', async () => {
    const file = await fileOf('empty.bin', Buffer.alloc(0));
    assert.equal((await rejection(scanFile(binary, file.absolute, file.relative, 0))).offset, 0);
  });

  describe('categorical ids and int32 dense features', () => {
    /** label uint8 @0, 2 int32 dense @1, 3 categorical @9 (int32: 12 bytes, int64: 24 bytes). */
    const withCategorical = (type: 'int32' | 'int64', byteOrder: 'little' | 'big'): BinaryFormat => ({
      kind: 'binary',
      recordSize: 9 + (type === 'int32' ? 12 : 24),
      byteOrder,
      label: { offset: 0, type: 'uint8' },
      features: { offset: 1, count: 2, type: 'int32', transform: 'log1p' },
      categorical: { offset: 9, count: 3, type },
      numClasses: 2,
    });
    const rows = [
      { label: 1, dense: [0, 7], cats: [0, -1, 2147483647] },
      { label: 0, dense: [-3, 1000], cats: [-2147483648, 42, 5] },
      { label: 1, dense: [1, 2], cats: [123456789, -987654321, 1] },
    ];
    function encodeCategorical(format: BinaryFormat, values: { label: number; dense: number[]; cats: (number | bigint)[] }[]): Buffer {
      const buf = Buffer.alloc(values.length * format.recordSize);
      const le = format.byteOrder === 'little';
      values.forEach((r, i) => {
        const at = i * format.recordSize;
        buf.writeUInt8(r.label, at);
        r.dense.forEach((v, f) => (le ? buf.writeInt32LE(v, at + 1 + 4 * f) : buf.writeInt32BE(v, at + 1 + 4 * f)));
        r.cats.forEach((v, c) => {
          if (format.categorical!.type === 'int32') le ? buf.writeInt32LE(Number(v), at + 9 + 4 * c) : buf.writeInt32BE(Number(v), at + 9 + 4 * c);
          else le ? buf.writeBigInt64LE(BigInt(v), at + 9 + 8 * c) : buf.writeBigInt64BE(BigInt(v), at + 9 + 8 * c);
        });
      });
      return buf;
    }

    for (const type of ['int32', 'int64'] as const) {
      for (const byteOrder of ['little', 'big'] as const) {
        it(`decodes ${type} categorical ids and log1p of int32 dense values (${byteOrder} endian)`, async () => {
          const format = withCategorical(type, byteOrder);
          assert.deepEqual([featureCount(format), categoricalCount(format)], [2, 3]);
          const file = await fileOf(`cat-${type}-${byteOrder}.bin`, encodeCategorical(format, rows));
          assert.deepEqual([...(await scanFile(format, file.absolute, file.relative, 0)).labels], [1, 0, 1]);
          const x = new Float32Array(2 * 3);
          const c = new Int32Array(3 * 3);
          await featureSource(format).read(file, picksOf([{ index: 2, row: 0 }, { index: 0, row: 2 }, { index: 1, row: 1 }]), x, c);
          const order = [2, 1, 0];
          // Negative dense values clamp to 0 before log1p.
          assert.deepEqual([...x], order.flatMap((r) => rows[r]!.dense.map((v) => Math.fround(Math.log1p(Math.max(0, v))))));
          assert.deepEqual([...c], order.flatMap((r) => rows[r]!.cats));
          await assert.rejects(featureSource(format).read(file, picksOf([{ index: 0, row: 0 }]), new Float32Array(2)), DataError);
        });
      }
    }

    it('decodes word-aligned fields (Criteo-like layouts) the same as unaligned ones', async () => {
      // label int32 @0, 2 dense @4, 3 int32 categorical @12: every field on a 4-byte boundary.
      for (const [type, transform] of [['int32', 'log1p'], ['float32', 'log1p'], ['int32', undefined], ['float32', undefined]] as const) {
        const format: BinaryFormat = {
          kind: 'binary', recordSize: 24, byteOrder: 'little', label: { offset: 0, type: 'int32' },
          features: { offset: 4, count: 2, type, ...(transform && { transform }) }, categorical: { offset: 12, count: 3, type: 'int32' }, numClasses: 2,
        };
        const buf = Buffer.alloc(rows.length * 24);
        rows.forEach((r, i) => {
          buf.writeInt32LE(r.label, i * 24);
          r.dense.forEach((v, f) => (type === 'int32' ? buf.writeInt32LE(v, i * 24 + 4 + 4 * f) : buf.writeFloatLE(v + 0.5, i * 24 + 4 + 4 * f)));
          r.cats.forEach((v, c) => buf.writeInt32LE(v, i * 24 + 12 + 4 * c));
        });
        const file = await fileOf(`aligned-${type}-${transform}.bin`, buf);
        const x = new Float32Array(2 * 3);
        const c = new Int32Array(3 * 3);
        await featureSource(format).read(file, picksOf([{ index: 2, row: 0 }, { index: 0, row: 2 }, { index: 1, row: 1 }]), x, c);
        const order = [2, 1, 0];
        const stored = (v: number) => (type === 'int32' ? v : v + 0.5);
        const decoded = (v: number) => Math.fround(transform ? Math.log1p(Math.max(0, stored(v))) : stored(v));
        assert.deepEqual([...x], order.flatMap((r) => rows[r]!.dense.map(decoded)), `${type} ${transform}`);
        assert.deepEqual([...c], order.flatMap((r) => rows[r]!.cats));
      }
    });

    it('reads int32 dense values without a transform as they are', async () => {
      const format: BinaryFormat = { ...withCategorical('int32', 'little'), features: { offset: 1, count: 2, type: 'int32' } };
      const file = await fileOf('cat-raw.bin', encodeCategorical(format, rows));
      const x = new Float32Array(2);
      await featureSource(format).read(file, picksOf([{ index: 1, row: 0 }]), x, new Int32Array(3));
      assert.deepEqual([...x], [-3, 1000]);
    });

    for (const [value, byteOrder] of [[2n ** 31n, 'little'], [-(2n ** 31n) - 1n, 'big']] as const) {
      it(`rejects an int64 categorical id ${value} outside int32 at its byte offset (${byteOrder} endian)`, async () => {
        const format = withCategorical('int64', byteOrder);
        const bad = rows.map((r, i) => (i === 1 ? { ...r, cats: [1, 2, value] } : r));
        const file = await fileOf(`cat-range-${byteOrder}.bin`, encodeCategorical(format, bad));
        const error = await rejection(scanFile(format, file.absolute, 'train/cat.bin', 0));
        assert.equal(error.file, 'train/cat.bin');
        assert.equal(error.offset, 33 + 9 + 16);
        assert.equal(error.message, `train/cat.bin: byte 58: categorical[2] ${value} out of int32 range in record 1`);
      });
    }
  });

  it('refuses to read features from a file that changed size since ingestion', async () => {
    const file = await fileOf('changed.bin', encode(binary, records));
    await assert.rejects(featureSource(binary).read({ ...file, sizeBytes: 24 }, picksOf([{ index: 0, row: 0 }]), new Float32Array(3)), DataError);
  });
});

describe('CSV format', () => {
  const csv: CsvFormat = { kind: 'csv', separator: ',', header: true, quote: '"', labelColumn: 'label', featureColumns: ['a', 'b'], timestampColumn: 'ts', numClasses: 3 };

  it('parses quoting, CRLF and blank lines by column name', () => {
    const text = 'ts,"a",b,label,note\r\n10,1.5,-2,0,"x, ""quoted"""\r\n\r\n11,3e2,4,2,"multi\nline"\n12,"5",6,1,\n';
    const table = parseCsv(csv, text, 'f.csv');
    assert.equal(table.count, 3);
    assert.deepEqual([...table.labels], [0, 2, 1]);
    assert.deepEqual([...table.timestamps!], [10, 11, 12]);
    assert.deepEqual([...table.features], [1.5, -2, 300, 4, 5, 6]);
  });

  it('uses 0-based indexes without a header, with another separator and quote', () => {
    const format: CsvFormat = { kind: 'csv', separator: ';', header: false, quote: "'", labelColumn: 2, featureColumns: [0, 1] };
    const table = parseCsv(format, "1;2;0\n'3';' 4 ';1", 'g.csv');
    assert.equal(table.timestamps, undefined);
    assert.deepEqual([...table.labels], [0, 1]);
    assert.deepEqual([...table.features], [1, 2, 3, 4]);
    assert.throws(() => parseCsv(format, "1;2;0\n'3;1';4;1", 'g.csv'), /^IngestError: g\.csv: line 2: feature "3;1" in column 0 is not a number$/);
  });

  const cases: [string, string, number, RegExp][] = [
    ['wrong number of columns', 'ts,a,b,label\n1,2,3,0\n2,3,4\n', 3, /expected 4 columns, found 3/],
    ['non-integer label', 'ts,a,b,label\n1,2,3,0\n2,3,4,1.5\n', 3, /label "1\.5" in column "label" \(3\) is not an integer/],
    ['label out of range', 'ts,a,b,label\n1,2,3,3\n', 2, /label 3 out of range \[0, 3\)/],
    ['non-numeric feature', 'ts,a,b,label\n1,2,3,0\n\n2,abc,4,1\n', 4, /feature "abc" in column "a" \(1\) is not a number/],
    ['empty feature', 'ts,a,b,label\n1,,3,0\n', 2, /feature "" in column "a" \(1\) is not a number/],
    ['non-integer timestamp', 'ts,a,b,label\n1,2,3,0\n2.5,3,4,1\n', 3, /timestamp "2\.5" in column "ts" \(0\) is not an integer/],
    ['unterminated quote', 'ts,a,b,label\n1,2,3,0\n2,"3,4,1\n', 3, /unterminated quoted field/],
    ['unknown column name', 'ts,a,c,label\n1,2,3,0\n', 1, /no column named "b"/],
    ['no data rows', 'ts,a,b,label\n', 2, /no data rows/],
  ];
  for (const [name, text, line, reason] of cases) {
    it(`rejects ${name} with the line`, () => {
      assert.throws(
        () => parseCsv(csv, text, 'data/bad.csv'),
        (e: unknown) => e instanceof IngestError && e.file === 'data/bad.csv' && e.line === line && reason.test(e.message) && e.message.startsWith(`data/bad.csv: line ${line}: `),
      );
    });
  }
});

describe('dataset config', () => {
  const valid = { name: 'mnist', root: '/data', format: { kind: 'binary', recordSize: 24, label: { offset: 0, type: 'int32' }, features: { offset: 12, count: 3 } } };

  it('fills defaults', () => {
    assert.equal((parseDatasetConfig(valid).format as BinaryFormat).byteOrder, 'little');
    const csv = parseDatasetConfig({ ...valid, format: { kind: 'csv', labelColumn: 0, featureColumns: [1] } }).format as CsvFormat;
    assert.deepEqual([csv.separator, csv.header, csv.quote], [',', true, '"']);
    // No defaults for the newer optional fields, so formats stored before them compare equal.
    assert.deepEqual(parseDatasetConfig(valid).format, { ...valid.format, byteOrder: 'little' });
    assert.equal(categoricalCount(csv), 0);
  });

  it('takes ingest settings', () => {
    assert.equal(parseDatasetConfig(valid).ingest, undefined);
    assert.deepEqual(parseDatasetConfig({ ...valid, ingest: { parallel: 4, pollSeconds: 0.5 } }).ingest, { parallel: 4, pollSeconds: 0.5 });
  });

  it('accepts a categorical field', () => {
    const format = { ...valid.format, recordSize: 40, categorical: { offset: 24, count: 2, type: 'int64' } };
    assert.deepEqual(parseDatasetConfig({ ...valid, format }).format, { ...format, byteOrder: 'little' });
  });

  it('expands the criteo preset to 160-byte records of 40 int32', () => {
    const config = parseDatasetConfig({ name: 'criteo', root: '/data', format: { preset: 'criteo' } });
    assert.deepEqual(config.format, {
      kind: 'binary',
      recordSize: 160,
      byteOrder: 'little',
      label: { offset: 0, type: 'int32' },
      features: { offset: 4, count: 13, type: 'int32', transform: 'log1p' },
      categorical: { offset: 56, count: 26, type: 'int32' },
      numClasses: 2,
    });
    assert.deepEqual([featureCount(config.format), categoricalCount(config.format)], [13, 26]);
    // The expansion is a copy: changing it leaves the preset alone.
    (config.format as BinaryFormat).features.count = 1;
    assert.equal(FORMAT_PRESETS.criteo.features.count, 13);
    // The expanded format is a valid format in its own right (what registerDataset stores and re-parses).
    assert.deepEqual(parseDatasetConfig({ ...valid, format: FORMAT_PRESETS.criteo }).format, FORMAT_PRESETS.criteo);
  });

  const invalid: [string, unknown, RegExp][] = [
    ['feature count', { ...valid, format: { ...valid.format, features: { offset: 12, count: 0 } } }, /format\.features\.count: expected a positive integer/],
    ['field past the record', { ...valid, format: { ...valid.format, features: { offset: 12, count: 4 } } }, /format\.features: bytes 12\.\.28 exceed recordSize 24/],
    ['overlapping fields', { ...valid, format: { ...valid.format, timestamp: { offset: 2, type: 'int32' } } }, /format\.timestamp: overlaps label/],
    ['label type', { ...valid, format: { ...valid.format, label: { offset: 0, type: 'float32' } } }, /format\.label\.type: /],
    ['unknown kind', { ...valid, format: { kind: 'parquet' } }, /format\.kind: /],
    ['column names without header', { ...valid, format: { kind: 'csv', header: false, labelColumn: 'y', featureColumns: [1] } }, /format\.labelColumn: column names need header: true/],
    ['feature column index', { ...valid, format: { kind: 'csv', labelColumn: 0, featureColumns: [1, -2] } }, /format\.featureColumns\[1\]: expected a non-negative integer/],
    ['categorical past the record', { ...valid, format: { ...valid.format, recordSize: 40, categorical: { offset: 24, count: 3, type: 'int64' } } }, /format\.categorical: bytes 24\.\.48 exceed recordSize 40/],
    ['categorical overlapping features', { ...valid, format: { ...valid.format, recordSize: 40, categorical: { offset: 20, count: 2, type: 'int32' } } }, /format\.categorical: overlaps features/],
    ['timestamp overlapping categorical', { ...valid, format: { ...valid.format, recordSize: 40, categorical: { offset: 24, count: 2, type: 'int32' }, timestamp: { offset: 28, type: 'int64' } } }, /format\.timestamp: overlaps categorical/],
    ['categorical type', { ...valid, format: { ...valid.format, recordSize: 40, categorical: { offset: 24, count: 2, type: 'uint8' } } }, /format\.categorical\.type: /],
    ['categorical count', { ...valid, format: { ...valid.format, recordSize: 40, categorical: { offset: 24, count: 0, type: 'int32' } } }, /format\.categorical\.count: expected a positive integer/],
    ['categorical missing type', { ...valid, format: { ...valid.format, recordSize: 40, categorical: { offset: 24, count: 1 } } }, /format\.categorical\.type: /],
    ['dense feature type', { ...valid, format: { ...valid.format, features: { offset: 12, count: 3, type: 'int64' } } }, /format\.features\.type: /],
    ['dense feature transform', { ...valid, format: { ...valid.format, features: { offset: 12, count: 3, transform: 'log' } } }, /format\.features\.transform: /],
    ['unknown preset', { ...valid, format: { preset: 'avazu' } }, /format\.preset: expected one of "criteo"/],
    ['preset with other keys', { ...valid, format: { preset: 'criteo', numClasses: 3 } }, /format: a preset takes no other keys \(got "numClasses"\)/],
    ['name', { ...valid, name: 'no spaces' }, /name: expected/],
    ['hash partitions', { ...valid, hashPartitions: 0 }, /hashPartitions: expected an integer in 1\.\.64/],
    ['unknown key', { ...valid, extra: true }, /Unrecognized key: "extra"/],
    ['ingest parallel', { ...valid, ingest: { parallel: 0 } }, /ingest\.parallel: expected an integer in 1\.\.64/],
    ['ingest poll interval', { ...valid, ingest: { pollSeconds: -1 } }, /ingest\.pollSeconds: expected a positive number of seconds/],
    ['unknown ingest key', { ...valid, ingest: { threads: 2 } }, /ingest: Unrecognized key: "threads"/],
  ];
  for (const [name, input, message] of invalid) {
    it(`names the field path: ${name}`, () => {
      assert.throws(() => parseDatasetConfig(input), (e: unknown) => e instanceof DataError && message.test(e.message));
    });
  }
});

describe('CSV column naming in errors', () => {
  const trips: CsvFormat = { kind: 'csv', separator: ',', header: true, quote: '"', labelColumn: 'label', featureColumns: ['speed', 'distance'], timestampColumn: 'time' };

  it('names a column by its header name and index', () => {
    assert.throws(
      () => parseCsv(trips, 'time,speed,distance,label\n1,2,NA,0\n', 'trips.csv'),
      /^IngestError: trips\.csv: line 2: feature "NA" in column "distance" \(2\) is not a number$/,
    );
    assert.throws(() => parseCsv(trips, 'time,speed,distance,label\n1,2,3,yes\n', 'trips.csv'), /label "yes" in column "label" \(3\) is not an integer$/);
    assert.throws(() => parseCsv(trips, 'time,speed,distance,label\nnoon,2,3,0\n', 'trips.csv'), /timestamp "noon" in column "time" \(0\) is not an integer/);
  });

  it('names a column by index alone without a header', () => {
    const byIndex: CsvFormat = { kind: 'csv', separator: ',', header: false, quote: '"', labelColumn: 2, featureColumns: [0, 1] };
    assert.throws(() => parseCsv(byIndex, '1,x,0\n', 'n.csv'), /feature "x" in column 1 is not a number$/);
    assert.throws(() => parseCsv(byIndex, '1,2,z\n', 'n.csv'), /label "z" in column 2 is not an integer$/);
  });

  it('lists the header when a named column is missing', () => {
    assert.throws(
      () => parseCsv(trips, 'time,speed,dist,label\n1,2,3,0\n', 'trips.csv'),
      /^IngestError: trips\.csv: line 1: no column named "distance" in the header \("time", "speed", "dist", "label"\)$/,
    );
  });
});
