import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { picksByChunk, type PageFiles } from '../../lib/data/chunk-picks.js';
import type { Picks } from '../../lib/data/formats/index.js';

/** A key-ordered page: file f holds counts[f] records, indexes 0.. in key order. */
function pageOf(counts: number[]): PageFiles {
  const fileIds: number[] = [];
  const indexes: number[] = [];
  counts.forEach((count, f) => {
    for (let i = 0; i < count; i++) [fileIds.push(10 + f), indexes.push(i)];
  });
  return { length: fileIds.length, fileIds: Float64Array.from(fileIds), indexes: Int32Array.from(indexes) };
}

const plain = (byFile: Map<number, Picks>) =>
  Object.fromEntries([...byFile].map(([file, p]) => [file, [Array.from(p.indexes), Array.from(p.rows)]]));

describe('picksByChunk', () => {
  it('groups each chunk of a shuffled order by file, in record order, with output rows counted from the chunk', () => {
    const page = pageOf([3, 2, 4]);
    // Output rows 0..8 are page rows 4, 0, 8, 2, 5, 1, 7, 3, 6; chunks start at output rows 0, 4 and 7.
    const order = Uint32Array.of(4, 0, 8, 2, 5, 1, 7, 3, 6);
    const chunks = picksByChunk(page, order, [0, 4, 7]).map(plain);
    assert.deepEqual(chunks, [
      // Page rows 4, 0, 8, 2: file 10 records 0 (row 1) and 2 (row 3), file 11 record 1 (row 0), file 12 record 3 (row 2).
      { 10: [[0, 2], [1, 3]], 11: [[1], [0]], 12: [[3], [2]] },
      // Page rows 5, 1, 7: file 10 record 1 (row 1), file 12 records 0 and 2 (rows 0, 2).
      { 10: [[1], [1]], 12: [[0, 2], [0, 2]] },
      // Page rows 3, 6: file 11 record 0, file 12 record 1.
      { 11: [[0], [0]], 12: [[1], [1]] },
    ]);
  });

  it('leaves out page rows the order skips, and gives one chunk for one start', () => {
    const page = pageOf([4]);
    assert.deepEqual(picksByChunk(page, Uint32Array.of(3, 1), [0]).map(plain), [{ 10: [[1, 3], [1, 0]] }]);
  });

  it('merges and sorts a file met again in a page not in key order', () => {
    const page: PageFiles = { length: 4, fileIds: Float64Array.of(10, 11, 10, 10), indexes: Int32Array.of(5, 0, 2, 1) };
    assert.deepEqual(picksByChunk(page, Uint32Array.of(0, 1, 2, 3), [0]).map(plain), [{ 10: [[1, 2, 5], [3, 2, 0]], 11: [[0], [1]] }]);
  });
});
