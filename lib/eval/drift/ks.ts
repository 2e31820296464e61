/**
 * Two-sided two-sample Kolmogorov–Smirnov test, as scipy.stats.ks_2samp(a, b) with method='auto': the p-value is
 * exact when both samples have at most 10,000 values, asymptotic otherwise.
 *
 * Exact: with g = gcd(m, n) and L = lcm(m, n), the statistic is snapped to h/L (h = round(D·L)) and
 * P(D ≥ h/L) counts the lattice paths from (0, 0) to (m, n) that touch |x/m − y/n| ≥ h/L (Hodges 1958). For m = n
 * this is the alternating binomial series of the reflection principle, else a column-by-column recursion on the
 * fraction of paths that have already left the band (Viehmann 2021, arXiv:2102.08037), O(m · band width): about
 * 2 ns a step, so up to ~0.2 s for 10,000 vs 9,999 values under strong drift (the band is then wide). Should it
 * fail to give a probability, the asymptotic value is used, as scipy does.
 * Asymptotic: kstwo's survival function (kolmogorov.ts) at n = round(mn/(m+n)), rounding halves to even.
 */
import { gcd } from './integers.js';
import { kolmogorovSf } from './kolmogorov.js';

export interface TestResult {
  statistic: number;
  pValue: number;
}

/** Largest sample size for which 'auto' computes the exact p-value. */
const EXACT_MAX_N = 10_000;

export function ks2samp(a: ArrayLike<number>, b: ArrayLike<number>): TestResult {
  return ks2sampSorted(Float64Array.from(a).sort(), Float64Array.from(b).sort());
}

/** ks2samp on samples already sorted ascending (no NaNs). */
export function ks2sampSorted(a: Float64Array, b: Float64Array): TestResult {
  const m = a.length;
  const n = b.length;
  if (m === 0 || n === 0) throw new Error('ks2samp: samples must not be empty');
  const d = maxEcdfGap(a, b);
  if (Math.max(m, n) <= EXACT_MAX_N) {
    const g = gcd(m, n);
    const lcm = (m / g) * n;
    const h = Math.round(d * lcm);
    const snapped = h / lcm;
    if (h === 0) return { statistic: snapped, pValue: 1 };
    const p = m === n ? outsideSquare(m, h) : outsideBand(m, n, g, h);
    if (p >= 0 && p <= 1) return { statistic: snapped, pValue: p };
    return { statistic: snapped, pValue: asymptotic(m, n, snapped) };
  }
  return { statistic: d, pValue: asymptotic(m, n, d) };
}

/** sup |F_a − F_b| over the pooled values, the ECDFs right-continuous (ties counted on both sides at once). */
function maxEcdfGap(a: Float64Array, b: Float64Array): number {
  const m = a.length;
  const n = b.length;
  let i = 0;
  let j = 0;
  let max = 0;
  let min = 0;
  while (i < m || j < n) {
    const v = i < m && (j >= n || a[i]! <= b[j]!) ? a[i]! : b[j]!;
    while (i < m && a[i]! <= v) i++;
    while (j < n && b[j]! <= v) j++;
    const diff = i / m - j / n;
    if (diff > max) max = diff;
    else if (diff < min) min = diff;
  }
  return Math.max(max, Math.min(-min, 1));
}

function asymptotic(m: number, n: number, d: number): number {
  const [big, small] = m >= n ? [m, n] : [n, m];
  return kolmogorovSf(roundHalfEven((big * small) / (big + small)), d);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * P(D_{n,n} ≥ h/n) = 2 Σ_{k≥1} (−1)^{k+1} C(2n, n−kh) / C(2n, n). Each ratio of consecutive terms is a product of
 * h factors below 1, so the series is summed from its tail as 2·A₁(1 − A₂(1 − A₃(…))) without cancellation.
 */
function outsideSquare(n: number, h: number): number {
  let p = 0;
  for (let k = Math.floor(n / h) + 1; k >= 1; k--) {
    // A_k = C(2n, n−kh) / C(2n, n−(k−1)h).
    const base = (k - 1) * h;
    let ratio = 1;
    for (let j = 0; j < h; j++) ratio = (ratio * (n - base - j)) / (n + base + j + 1);
    p = ratio * (1 - p);
  }
  return 2 * p;
}

/**
 * P(D_{m,n} ≥ h/L) for m ≠ n: the share of the C(m+n, n) lattice paths from (0, 0) to (m, n) that leave the band
 * |x·n/g − y·m/g| < h. Column by column, u(x, y) is the share of paths to (x, y) that have left it:
 * u(x, y) = (x·u(x−1, y) + y·u(x, y−1)) / (x + y), and 1 outside the band. Only the band's window of y is kept.
 */
function outsideBand(m0: number, n0: number, g: number, h: number): number {
  const [m, n] = m0 >= n0 ? [m0, n0] : [n0, m0];
  const mg = m / g;
  const ng = n / g;
  // Column x keeps y in [lo, hi): |ng·x − mg·y| < h.
  let lo = 0;
  let hi = Math.min(Math.ceil(h / mg), n + 1);
  const u = new Float64Array(Math.min(2 * hi + 2, n + 1));
  // 1/(x + y) from a table: the recursion is a chain of dependent steps, and a division's latency dominated it.
  const inverse = Float64Array.from({ length: m + n + 1 }, (_, s) => 1 / s);
  for (let x = 1; x <= m; x++) {
    const prevLo = lo;
    const prevHi = hi;
    lo = Math.min(Math.max(Math.floor((ng * x - h) / mg) + 1, 0), n);
    hi = Math.min(Math.ceil((ng * x + h) / mg), n + 1);
    if (hi <= lo) return 1;
    // Below the window the paths have left the band; at y = 0 there is no cell below.
    let below = lo === 0 ? 0 : 1;
    for (let y = lo; y < hi; y++) {
      // The window only moves up, so u[y − prevLo] is still the previous column's value when read here.
      const left = y < prevHi ? u[y - prevLo]! : 1;
      below = (left * x + below * y) * inverse[x + y]!;
      u[y - lo] = below;
    }
  }
  return u[hi - lo - 1]!;
}
