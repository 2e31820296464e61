import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { categoricalCount, featureCount, parseDatasetConfig, type TextFormat } from '../../lib/data/dataset-config.js';
import { DataError, IngestError } from '../../lib/data/errors.js';
import { featureSource, isSampleFile, picksOf, scanFile, type StoredFile } from '../../lib/data/formats/index.js';
import { hashToken, tokenIds } from '../../lib/data/formats/text.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-text-format-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function textFormat(format: Record<string, unknown> = {}): TextFormat {
  const { format: parsed } = parseDatasetConfig({ name: 'txt', root: dir, format: { kind: 'text', ...format } });
  assert.equal(parsed.kind, 'text');
  return parsed as TextFormat;
}

let nextId = 1;
async function fileOf(name: string, content: string): Promise<StoredFile> {
  const absolute = path.join(dir, name);
  await writeFile(absolute, content);
  return { fileId: nextId++, root: dir, absolute, relative: name, sizeBytes: Buffer.byteLength(content) };
}

function ids(format: TextFormat, text: string): number[] {
  const out = new Int32Array(format.maxTokens);
  tokenIds(format, text, out, 0);
  return Array.from(out);
}

async function rejection(promise: Promise<unknown>): Promise<IngestError> {
  const error = await promise.then(() => assert.fail('expected an IngestError'), (e: unknown) => e);
  assert.ok(error instanceof IngestError, String(error));
  return error;
}

describe('text dataset config', () => {
  it('fills defaults and counts token ids, not features', () => {
    const f = textFormat();
    assert.deepEqual(f, { kind: 'text', separator: '\t', timestamp: false, maxTokens: 64, lowercase: true });
    assert.equal(featureCount(f), 0);
    assert.equal(categoricalCount(f), 64);
    assert.ok(isSampleFile(f, 'any/name.tsv'));
  });

  it('names the field of each invalid value', () => {
    assert.throws(() => textFormat({ separator: '||' }), /format\.separator: expected a single character/);
    assert.throws(() => textFormat({ separator: '\n' }), /format\.separator: must not be a line break/);
    assert.throws(() => textFormat({ maxTokens: 0 }), /format\.maxTokens: expected a positive integer/);
    assert.throws(() => textFormat({ lowercase: 'yes' }), /format\.lowercase/);
  });
});

describe('text tokens', () => {
  it('hashes with 32-bit FNV-1a over UTF-8, masked to a non-negative int32', () => {
    // Reference values of FNV-1a 32: "" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968.
    assert.equal(hashToken(''), 0x811c9dc5 & 0x7fffffff);
    assert.equal(hashToken('a'), 0xe40c292c & 0x7fffffff);
    assert.equal(hashToken('foobar'), 0xbf9cf968 & 0x7fffffff);
    // Multi-byte characters hash their UTF-8 bytes: "é" is c3 a9.
    const bytes = (b: number[]) => b.reduce((h, x) => Math.imul(h ^ x, 0x01000193), 0x811c9dc5) & 0x7fffffff;
    assert.equal(hashToken('é'), bytes([0xc3, 0xa9]));
    assert.equal(hashToken('日'), bytes([0xe6, 0x97, 0xa5]));
    assert.equal(hashToken('😀'), bytes([0xf0, 0x9f, 0x98, 0x80]));
  });

  it('splits on anything but Unicode letters and digits, lower-cases, pads with -1 and truncates', () => {
    const f = textFormat({ maxTokens: 4 });
    assert.deepEqual(ids(f, 'Hello, WORLD!'), [hashToken('hello'), hashToken('world'), -1, -1]);
    assert.deepEqual(ids(f, 'Größe 42 naïve-café x y z'), ['größe', '42', 'naïve', 'café'].map(hashToken));
    assert.deepEqual(ids(f, ' ... '), [-1, -1, -1, -1]);
    assert.deepEqual(ids(textFormat({ maxTokens: 2, lowercase: false }), 'Hello hello'), [hashToken('Hello'), hashToken('hello')]);
  });
});

describe('text format', () => {
  it('reads labels and timestamps of every non-blank line; picked lines give their token ids', async () => {
    const f = textFormat({ timestamp: true, maxTokens: 3, numClasses: 3 });
    const file = await fileOf('news.tsv', '2\t1700000002\tStocks fall\r\n\n0\t1700000001\tRain, then sun today\n1\t1700000000\tcafé opens');
    assert.deepEqual(await scanFile(f, file.absolute, file.relative, 5), {
      count: 3, labels: Int32Array.of(2, 0, 1), timestamps: Float64Array.of(1_700_000_002, 1_700_000_001, 1_700_000_000),
    });
    const categorical = new Int32Array(3 * 3);
    await featureSource(f).read(file, picksOf([{ index: 2, row: 0 }, { index: 0, row: 2 }, { index: 1, row: 1 }]), new Float32Array(0), categorical);
    assert.deepEqual(Array.from(categorical), [
      hashToken('café'), hashToken('opens'), -1,
      hashToken('rain'), hashToken('then'), hashToken('sun'),
      hashToken('stocks'), hashToken('fall'), -1,
    ]);
  });

  it('gives lines without a timestamp field the mtime, and reads a file it has not scanned (fresh index)', async () => {
    const f = textFormat({ separator: '|', maxTokens: 2 });
    const file = await fileOf('pipe.txt', '1|a b\n0|c\n');
    assert.deepEqual(Array.from((await scanFile(f, file.absolute, file.relative, 1_650_000_000.5)).timestamps), [1_650_000_000, 1_650_000_000]);
    const rewritten = await fileOf('pipe.txt', '1|dd\n0|ee ff\n');
    const categorical = new Int32Array(2);
    await featureSource(f).read(rewritten, picksOf([{ index: 1, row: 0 }]), new Float32Array(0), categorical);
    assert.deepEqual(Array.from(categorical), [hashToken('ee'), hashToken('ff')]);
  });

  it('reads picked lines of a file bigger than one read range', async () => {
    const f = textFormat({ maxTokens: 1 });
    const lines = Array.from({ length: 40_000 }, (_, i) => `${i % 2}\tword${i} ${'x'.repeat(40)}`);
    const file = await fileOf('big.tsv', `${lines.join('\n')}\n`);
    const picks = [39_999, 0, 20_000, 123].map((index, row) => ({ index, row }));
    const categorical = new Int32Array(4);
    await featureSource(f).read(file, picksOf(picks), new Float32Array(0), categorical);
    assert.deepEqual(Array.from(categorical), ['word39999', 'word0', 'word20000', 'word123'].map(hashToken));
  });

  it('rejects a bad line with the file and line number', async () => {
    const f = textFormat({ numClasses: 2 });
    const cases: [string, RegExp, number][] = [
      ['1\tok\nno separator here\n', /bad\.tsv: line 2: no separator "\\t" after the label/, 2],
      ['1\tok\n\n\ncat\ttext\n', /line 4: label "cat" is not an integer/, 4],
      ['2\ttext\n', /line 1: label 2 out of range \[0, 2\)/, 1],
    ];
    for (const [content, message, line] of cases) {
      const file = await fileOf('bad.tsv', content);
      const e = await rejection(scanFile(f, file.absolute, file.relative, 0));
      assert.equal(e.line, line);
      assert.match(e.message, message);
    }
    const stamped = textFormat({ timestamp: true });
    const noTs = await fileOf('ts.tsv', '1\ttext only\n');
    assert.match((await rejection(scanFile(stamped, noTs.absolute, noTs.relative, 0))).message, /line 1: no separator "\\t" after the timestamp/);
    const badTs = await fileOf('ts.tsv', '1\tyesterday\ttext\n');
    assert.match((await rejection(scanFile(stamped, badTs.absolute, badTs.relative, 0))).message, /line 1: timestamp "yesterday" is not an integer/);
    const empty = await fileOf('empty.tsv', '\n\n');
    assert.match((await rejection(scanFile(f, empty.absolute, empty.relative, 0))).message, /empty\.tsv: no sample lines/);
  });

  it('refuses to read a file whose size changed since ingestion', async () => {
    const f = textFormat();
    const file = await fileOf('moved.tsv', '1\ta\n');
    await assert.rejects(featureSource(f).read({ ...file, sizeBytes: 99 }, picksOf([{ index: 0, row: 0 }]), new Float32Array(0), new Int32Array(64)), DataError);
  });
});
