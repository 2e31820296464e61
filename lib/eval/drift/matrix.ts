/** Embedding matrices as the drift statistics see them, and the column views they need. */

/** Row-major: rows are samples, cols are embedding dimensions; element (r, c) is `data[r * cols + c]`. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

export function matrix(data: Float32Array, rows: number, cols: number): Matrix {
  if (data.length !== rows * cols) throw new Error(`matrix: ${data.length} values for ${rows}×${cols}`);
  return { data, rows, cols };
}

/**
 * Two windows must share their width, hold at least `minRows` samples each and only finite values (a NaN would
 * silently poison sorts, histograms and kernel sums alike).
 */
export function checkPair(ref: Matrix, cur: Matrix, minRows: number): void {
  if (ref.cols !== cur.cols) throw new Error(`drift: windows differ in width (${ref.cols} vs ${cur.cols})`);
  if (ref.cols === 0) throw new Error('drift: windows have no columns');
  if (ref.rows < minRows || cur.rows < minRows) {
    throw new Error(`drift: each window needs at least ${minRows} rows (got ${ref.rows} and ${cur.rows})`);
  }
  for (const [name, m] of [['reference', ref], ['current', cur]] as const) {
    if (m.data.length !== m.rows * m.cols) throw new Error(`drift: ${name} window has ${m.data.length} values for ${m.rows}×${m.cols}`);
    for (let i = 0; i < m.data.length; i++) {
      if (!Number.isFinite(m.data[i]!)) throw new Error(`drift: ${name} window holds a non-finite value at row ${Math.floor(i / m.cols)}`);
    }
  }
}

/**
 * Column `c` as float64, sorted ascending, in `out` (pass one to reuse it across columns). The values are float32,
 * so an LSD radix sort on their bit patterns (3 passes of 11 bits) sorts them exactly, about 3× faster than
 * Float64Array.prototype.sort at a few thousand rows. −0 sorts before +0, which compare equal anyway.
 */
export function sortedColumn(m: Matrix, c: number, out = new Float64Array(m.rows)): Float64Array {
  const n = m.rows;
  const bits = new Uint32Array(m.data.buffer, m.data.byteOffset, m.data.length);
  let keys = new Uint32Array(n);
  let spare = new Uint32Array(n);
  // Order-preserving map to unsigned: flip all bits of negatives, only the sign bit of the rest.
  for (let r = 0, i = c; r < n; r++, i += m.cols) {
    const b = bits[i]!;
    keys[r] = b & SIGN ? ~b : b | SIGN;
  }
  const counts = new Uint32Array(RADIX);
  for (let shift = 0; shift < 32; shift += RADIX_BITS) {
    counts.fill(0);
    for (let r = 0; r < n; r++) counts[(keys[r]! >>> shift) & DIGIT]++;
    // One bucket holding everything: this digit is the same in every key, nothing to reorder.
    if (counts[(keys[0]! >>> shift) & DIGIT] === n) continue;
    for (let d = 0, at = 0; d < RADIX; d++) {
      const k = counts[d]!;
      counts[d] = at;
      at += k;
    }
    for (let r = 0; r < n; r++) spare[counts[(keys[r]! >>> shift) & DIGIT]++] = keys[r]!;
    [keys, spare] = [spare, keys];
  }
  const value = new Float32Array(spare.buffer);
  for (let r = 0; r < n; r++) {
    const k = keys[r]!;
    spare[r] = k & SIGN ? k ^ SIGN : ~k;
    out[r] = value[r]!;
  }
  return out;
}

const SIGN = 0x80000000;
const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;
const DIGIT = RADIX - 1;

/** Mean of each column, accumulated in float64. */
export function columnMeans(m: Matrix): Float64Array {
  const sums = new Float64Array(m.cols);
  for (let r = 0, i = 0; r < m.rows; r++) {
    for (let c = 0; c < m.cols; c++, i++) sums[c] += m.data[i]!;
  }
  for (let c = 0; c < m.cols; c++) sums[c] /= m.rows;
  return sums;
}
