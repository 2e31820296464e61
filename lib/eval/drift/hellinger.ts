/**
 * Mean over embedding dimensions of the Hellinger distance between the two windows' histograms of that dimension.
 * Each dimension gets `bins` (default 20) equal-width bins spanning the two windows' joint minimum to maximum
 * (the maximum falls in the last bin); a dimension constant over both windows has distance 0. Per dimension,
 * H = √(½ Σ_b (√p_b − √q_b)²) for bin shares p (reference) and q (current): 0 for equal histograms, 1 for
 * histograms with no bin in common, so the mean lies in [0, 1]. Written as a sum of squares rather than
 * √(1 − Σ √(p q)), it has no cancellation for nearby histograms.
 */
import { checkPair, type Matrix } from './matrix.js';

export const DEFAULT_HELLINGER_BINS = 20;

export function hellinger(ref: Matrix, cur: Matrix, opts: { bins?: number } = {}): number {
  const bins = opts.bins ?? DEFAULT_HELLINGER_BINS;
  if (!(Number.isInteger(bins) && bins >= 1)) throw new Error(`hellinger: bins must be a positive integer, got ${bins}`);
  checkPair(ref, cur, 1);
  const refCounts = new Float64Array(bins);
  const curCounts = new Float64Array(bins);
  let total = 0;
  for (let c = 0; c < ref.cols; c++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const m of [ref, cur]) {
      for (let i = c; i < m.data.length; i += m.cols) {
        const v = m.data[i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (hi === lo) continue;
    const scale = bins / (hi - lo);
    count(ref, c, lo, scale, refCounts);
    count(cur, c, lo, scale, curCounts);
    let sum = 0;
    for (let b = 0; b < bins; b++) {
      const d = Math.sqrt(refCounts[b]! / ref.rows) - Math.sqrt(curCounts[b]! / cur.rows);
      sum += d * d;
    }
    total += Math.min(1, Math.sqrt(sum / 2));
  }
  return total / ref.cols;
}

/** Histogram of column `c` into `counts` (overwritten). */
function count(m: Matrix, c: number, lo: number, scale: number, counts: Float64Array): void {
  counts.fill(0);
  const last = counts.length - 1;
  for (let i = c; i < m.data.length; i += m.cols) counts[Math.min(last, Math.floor((m.data[i]! - lo) * scale))]++;
}
