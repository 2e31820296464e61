/**
 * Two-sample Cramér–von Mises test, as scipy.stats.cramervonmises_2samp(a, b) with method='auto': exact p-value
 * when neither sample has more than 20 values, asymptotic otherwise.
 *
 * Statistic (Anderson 1962, eq. 9–10): with r_i the midranks of the sorted a (size m) and s_j of the sorted b
 * (size n) in the pooled sample, U = m Σ (r_i − i)² + n Σ (s_j − j)² and T = U/(mn(m+n)) − (4mn − 1)/(6(m+n)).
 * Exact: U is a sum over the points of a lattice path, so the distribution of U over all C(m+n, m) equally likely
 * orderings follows from a dynamic programme over the grid (Xiao, Gordon & Yakovlev 2006, J. Stat. Softw.
 * 17(8)); it depends on (m, n) only and is cached. Asymptotic: T standardised by its exact mean and variance
 * (Anderson 1962, eq. 11, 14, 15) against the one-sample statistic's limiting distribution (cvm-limit.ts).
 */
import { cvmLimitCdf } from './cvm-limit.js';
import { lcm } from './integers.js';
import type { TestResult } from './ks.js';

/** Largest sample size for which 'auto' computes the exact p-value. */
const EXACT_MAX_N = 20;

export function cvm2samp(a: ArrayLike<number>, b: ArrayLike<number>): TestResult {
  return cvm2sampSorted(Float64Array.from(a).sort(), Float64Array.from(b).sort());
}

/** cvm2samp on samples already sorted ascending (no NaNs). */
export function cvm2sampSorted(a: Float64Array, b: Float64Array): TestResult {
  const m = a.length;
  const n = b.length;
  if (m < 2 || n < 2) throw new Error('cvm2samp: each sample needs at least two values');
  const u = rankDeviations(a, b);
  const k = m * n;
  const N = m + n;
  const statistic = u / (k * N) - (4 * k - 1) / (6 * N);
  const pValue = Math.max(m, n) <= EXACT_MAX_N ? exactTail(u, m, n) : asymptoticTail(statistic, m, n);
  return { statistic, pValue };
}

/** U = m Σ_i (r_i − i)² + n Σ_j (s_j − j)², ranks 1-based, ties given their average rank. */
function rankDeviations(a: Float64Array, b: Float64Array): number {
  let i = 0;
  let j = 0;
  let sumA = 0;
  let sumB = 0;
  while (i < a.length || j < b.length) {
    const v = i < a.length && (j >= b.length || a[i]! <= b[j]!) ? a[i]! : b[j]!;
    const before = i + j;
    let ia = i;
    let jb = j;
    while (ia < a.length && a[ia] === v) ia++;
    while (jb < b.length && b[jb] === v) jb++;
    const rank = 0.5 * (before + 1 + ia + jb);
    for (; i < ia; i++) sumA += (rank - (i + 1)) ** 2;
    for (; j < jb; j++) sumB += (rank - (j + 1)) ** 2;
  }
  return a.length * sumA + b.length * sumB;
}

function asymptoticTail(t: number, m: number, n: number): number {
  const N = m + n;
  const k = m * n;
  const mean = (1 + 1 / N) / 6;
  const variance = ((N + 1) * (4 * k * N - 3 * (m * m + n * n) - 2 * k)) / (45 * N * N * 4 * k);
  const standardised = 1 / 6 + (t - mean) / Math.sqrt(45 * variance);
  // Below 0.003 the limiting cdf is under 1.3e-18.
  return standardised < 0.003 ? 1 : Math.max(1 - cvmLimitCdf(standardised), 0);
}

/** The exact null distribution of U for sample sizes (m, n), as what P(U ≥ u) needs. */
interface ExactDistribution {
  /** Distinct values of the path sum (a v − b w)² (a = L/m, b = L/n, L = lcm), ascending. */
  values: Float64Array;
  /** tail[i]: how many orderings give a value ≥ values[i]. */
  tail: Float64Array;
  /** C(m+n, m), the number of orderings. */
  total: number;
}

/** Bounded: the distributions of up to this many (m, n) pairs are kept. */
const CACHE_SIZE = 32;
const exactCache = new Map<string, ExactDistribution>();

/**
 * P(U ≥ u) over all orderings. As scipy does, u is first mapped to the integer path-sum scale,
 * ζ = ⌊L²(m+n)(6u − mn(4mn−1)) / (6m²n²)⌋ with Python's float floor division.
 */
function exactTail(u: number, m: number, n: number): number {
  const dist = exactDistribution(m, n);
  const L = lcm(m, n);
  const mn = m * n;
  const zeta = floorDivide(L * L * (m + n) * (6 * u - mn * (4 * mn - 1)), 6 * mn * mn);
  // First value ≥ ζ.
  let lo = 0;
  let hi = dist.values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (dist.values[mid]! >= zeta) hi = mid;
    else lo = mid + 1;
  }
  return lo < dist.values.length ? dist.tail[lo]! / dist.total : 0;
}

function exactDistribution(m: number, n: number): ExactDistribution {
  const key = `${m},${n}`;
  const cached = exactCache.get(key);
  if (cached) return cached;
  const L = lcm(m, n);
  const a = L / m;
  const b = L / n;
  // cells[v]: value → count over the paths to (v, w) for the current row w, as sorted parallel arrays. A path
  // reaches (v, w) from (v−1, w) or (v, w−1) and adds (a v − b w)² there.
  let cells: Level[] = Array.from({ length: m + 1 }, (_, v) => (v === 0 ? { values: Float64Array.of(0), counts: Float64Array.of(1) } : EMPTY));
  for (let w = 0; w <= n; w++) {
    let left = EMPTY;
    const next: Level[] = [];
    for (let v = 0; v <= m; v++) {
      left = shift(union(left, cells[v]!), (a * v - b * w) ** 2);
      next.push(left);
    }
    cells = next;
  }
  const { values, counts } = cells[m]!;
  const tail = new Float64Array(values.length);
  for (let i = values.length - 1, acc = 0; i >= 0; i--) tail[i] = acc += counts[i]!;
  const dist = { values, tail, total: binomial(m + n, m) };
  if (exactCache.size >= CACHE_SIZE) exactCache.delete(exactCache.keys().next().value!);
  exactCache.set(key, dist);
  return dist;
}

interface Level {
  values: Float64Array;
  counts: Float64Array;
}

const EMPTY: Level = { values: new Float64Array(0), counts: new Float64Array(0) };

/** Merge of two sorted value → count lists, counts of equal values added (all exact: counts stay below 2⁵³). */
function union(x: Level, y: Level): Level {
  const values = new Float64Array(x.values.length + y.values.length);
  const counts = new Float64Array(values.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < x.values.length || j < y.values.length) {
    const xv = i < x.values.length ? x.values[i]! : Infinity;
    const yv = j < y.values.length ? y.values[j]! : Infinity;
    if (xv <= yv) {
      values[k] = xv;
      counts[k] = x.counts[i++]!;
      if (xv === yv) counts[k] += y.counts[j++]!;
    } else {
      values[k] = yv;
      counts[k] = y.counts[j++]!;
    }
    k++;
  }
  return { values: values.subarray(0, k), counts: counts.subarray(0, k) };
}

function shift(x: Level, by: number): Level {
  return { values: x.values.map((v) => v + by), counts: x.counts };
}

/** Python's float `a // b`, computed via fmod as CPython and numpy do (so a quotient a rounding step from an integer lands alike). */
function floorDivide(a: number, b: number): number {
  const mod = a % b;
  let div = (a - mod) / b;
  if (mod !== 0 && (b < 0) !== (mod < 0)) div -= 1;
  if (div === 0) return 0;
  const floor = Math.floor(div);
  return div - floor > 0.5 ? floor + 1 : floor;
}

/** C(n, k), exact for the sizes used here (at most C(40, 20) ≈ 1.4e11). */
function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
  return c;
}
