import { picksOf, type Picks } from './formats/index.js';

/** What grouping needs of a key page: each row's file and record index. */
export interface PageFiles {
  length: number;
  fileIds: Float64Array;
  indexes: Int32Array;
}

/**
 * The records each chunk of a partition reads, grouped by file. Output rows 0, 1, ... are the page rows order[0],
 * order[1], ...; chunk k holds output rows starts[k] up to starts[k + 1] (or the end), and its picks name them
 * from 0. A file's samples have consecutive keys in record order, so in the key-ordered page each file's rows form
 * one run, already in record order: one pass over the page fills the picks of every chunk, as views of two
 * arrays, whatever the number of chunks. A file met again later in a chunk is merged and sorted.
 */
export function picksByChunk(page: PageFiles, order: Uint32Array, starts: number[]): Map<number, Picks>[] {
  const chunks = starts.length;
  const chunkOf = new Int32Array(order.length);
  for (let k = 0; k < chunks; k++) chunkOf.fill(k, starts[k], starts[k + 1] ?? order.length);
  const outputRow = new Int32Array(page.length).fill(-1);
  for (let row = 0; row < order.length; row++) outputRow[order[row]!] = row;
  // Chunk k fills indexes and rows from starts[k]: its current run began at runStart[k], of file runFile[k].
  const indexes = new Int32Array(order.length);
  const rows = new Int32Array(order.length);
  const filled = Int32Array.from(starts);
  const runStart = Int32Array.from(starts);
  const runFile = new Float64Array(chunks).fill(-1);
  const byFile = Array.from({ length: chunks }, () => new Map<number, Picks>());
  const endRun = (k: number) => {
    if (filled[k] === runStart[k]) return;
    const run = { indexes: indexes.subarray(runStart[k], filled[k]), rows: rows.subarray(runStart[k], filled[k]) };
    const earlier = byFile[k]!.get(runFile[k]!);
    byFile[k]!.set(runFile[k]!, earlier || !ascending(run.indexes) ? merged(earlier, run) : run);
    runStart[k] = filled[k]!;
  };
  for (let r = 0; r < page.length; r++) {
    const row = outputRow[r]!;
    if (row < 0) continue;
    const k = chunkOf[row]!;
    if (page.fileIds[r] !== runFile[k]) {
      endRun(k);
      runFile[k] = page.fileIds[r]!;
    }
    const at = filled[k]!;
    indexes[at] = page.indexes[r]!;
    rows[at] = row - starts[k]!;
    filled[k] = at + 1;
  }
  for (let k = 0; k < chunks; k++) endRun(k);
  return byFile;
}

function ascending(values: Int32Array): boolean {
  for (let i = 1; i < values.length; i++) if (values[i]! < values[i - 1]!) return false;
  return true;
}

function merged(a: Picks | undefined, b: Picks): Picks {
  const pairs = [a, b].flatMap((p) => (p ? Array.from(p.indexes, (index, k) => ({ index, row: p.rows[k]! })) : []));
  return picksOf(pairs);
}
