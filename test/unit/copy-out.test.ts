import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBinaryCopy } from '../../lib/db/copy-binary.js';
import { BinaryCopyDecoder } from '../../lib/db/copy-out.js';

/** A binary COPY stream of rows (int8 key, int4 value): what the server sends for such a query. */
function stream(rows: [number, number][]): Buffer {
  return Buffer.concat([...encodeBinaryCopy([
    { type: 'int8', values: Float64Array.from(rows, (r) => r[0]) },
    { type: 'int4', values: Int32Array.from(rows, (r) => r[1]) },
  ], rows.length, 2)]);
}

const ROWS: [number, number][] = [[1, 7], [2 ** 40 + 3, -1], [-5, 2147483647], [Number.MAX_SAFE_INTEGER, -2147483648]];

describe('binary COPY decoder', () => {
  it('decodes int8 and int4 columns exactly, however the stream is split into chunks', () => {
    const data = stream(ROWS);
    for (let cut = 0; cut <= data.length; cut++) {
      const decoder = new BinaryCopyDecoder(['int8', 'int4'], 8);
      decoder.push(data.subarray(0, cut));
      decoder.push(data.subarray(cut));
      assert.equal(decoder.finish(), ROWS.length, `cut at ${cut}`);
      assert.deepEqual(Array.from(decoder.columns[0]!.subarray(0, 4)), ROWS.map((r) => r[0]));
      assert.deepEqual(Array.from(decoder.columns[1]!.subarray(0, 4)), ROWS.map((r) => r[1]));
    }
  });

  it('decodes one byte at a time', () => {
    const data = stream(ROWS);
    const decoder = new BinaryCopyDecoder(['int8', 'int4'], 4);
    for (let i = 0; i < data.length; i++) decoder.push(data.subarray(i, i + 1));
    assert.equal(decoder.finish(), 4);
    assert.equal(decoder.columns[0]![1], 2 ** 40 + 3);
  });

  it('names the column whose wire type is not the declared one', () => {
    const decoder = new BinaryCopyDecoder(['int4', 'int4'], 4);
    assert.throws(() => decoder.push(stream(ROWS)), /COPY column 1: expected int4, got 8 bytes/);
  });

  it('refuses a NULL, more rows than asked for, a missing trailer and a text stream', () => {
    const withNull = stream([[1, 2]]);
    withNull.writeInt32BE(-1, 19 + 2 + 4 + 8);
    assert.throws(() => new BinaryCopyDecoder(['int8', 'int4'], 1).push(withNull), /COPY column 2: expected int4, got NULL/);
    assert.throws(() => new BinaryCopyDecoder(['int8', 'int4'], 3).push(stream(ROWS)), /more than 3 rows/);
    const cut = new BinaryCopyDecoder(['int8', 'int4'], 4);
    const data = stream(ROWS);
    cut.push(data.subarray(0, data.length - 2));
    assert.throws(() => cut.finish(), /ended before its trailer/);
    assert.throws(() => new BinaryCopyDecoder(['int4'], 1).push(Buffer.from('1\t2\n3\t4\n5\t6\n7\t8\n9\t10\n')), /not in binary format/);
  });
});
