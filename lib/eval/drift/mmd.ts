/**
 * Squared Maximum Mean Discrepancy (MMD²) between a reference and a current embedding window: the unbiased
 * estimator of Gretton et al. (2012, JMLR 13, eq. 3), diagonal terms excluded,
 *
 *   MMD²_u = Σ_{i≠j} k(x_i, x_j) / (m(m−1)) + Σ_{i≠j} k(y_i, y_j) / (n(n−1)) − 2 Σ_{i,j} k(x_i, y_j) / (mn),
 *
 * with the Gaussian kernel k(x, y) = exp(−‖x−y‖² / (2σ²)). Being unbiased it is ≈ 0 for windows from one
 * distribution and can then be slightly negative. The score is permutation-free: Tideline decides on the value
 * with a static or a dynamic threshold, and `mmdThreshold` gives a distribution-free static one.
 *
 * Bandwidth σ (median heuristic, unless `bandwidth` is given): the median Euclidean distance over all unordered
 * pairs {i < j} of distinct points of the pooled sample, where each window contributes all its rows or, when it has
 * more than `medianSample` (default 1000), a sample of that many rows drawn without replacement by a PRNG seeded
 * with `seed` (default 0; the reference window is drawn first). The median of an even number of distances is the
 * mean of the two middle ones, as numpy's. If over half the pairs coincide (median 0), σ is their mean distance
 * instead, and 1 if all points coincide (every kernel value is then 1 and MMD² is 0 whatever σ). Distances come
 * from the float32 Gemm below, so pairs closer than its resolution (GEMM_RESOLUTION) count as coinciding.
 *
 * The O((m+n)²·d) kernel sums run as an ONNX graph (mmd-graph.ts) in a SessionHost's worker, vectorised and on
 * CUDA where the host has it. The kernel is folded into the rows: with γ = 1/(2σ²), left rows
 * [√(2γ)·x, −γ‖x‖², 1] times right rows [√(2γ)·y, 1, −γ‖y‖²] give −γ‖x−y‖² in one Gemm, then Exp and a row sum.
 * No n×n matrix is ever whole: each run takes one tile of at most TILE_ROWS × TILE_ROWS pairs, the within-window
 * sums only the tiles on and above the diagonal (symmetry halves their work). The data are centred on the pooled
 * mean first (MMD is translation invariant), so the float32 products do not cancel catastrophically; row sums come
 * back as float32 and are added in float64. Against a float64 reference the estimate agrees to a few 1e-9
 * (test/unit/drift-mmd.test.ts). Diagonal kernel values are 1 by definition and are subtracted as such.
 */
import type { HostedSession, SessionHost } from '../../onnx/session-host.js';
import { createRng, type Rng } from '../../rng.js';
import { checkPair, columnMeans, type Matrix } from './matrix.js';
import { EXP_ROW_SUMS, kernelSumsModel, PRODUCT } from './mmd-graph.js';
import { middlePair } from './select.js';

export interface MmdOptions {
  /** Kernel width σ; default: the median heuristic (module comment). Fix it to compare scores across checks. */
  bandwidth?: number;
  /** Most rows a window contributes to the median heuristic; default 1000. */
  medianSample?: number;
  /** Seed of the median heuristic's row sample; default 0. */
  seed?: number;
}

export interface MmdResult {
  /** Unbiased MMD² estimate; may be slightly negative. */
  mmd2: number;
  /** The σ used. */
  bandwidth: number;
}

const DEFAULT_MEDIAN_SAMPLE = 1000;
/**
 * Rows of either side of one run: its product block and exponentials stay at 16 MB apiece and its inputs at half
 * a megabyte, whatever the window sizes, while each run is still large enough for Gemm to run at full speed.
 */
const TILE_ROWS = 2048;

/** A window, centred and with each row extended by two columns (the kernel or the distance folded in). */
interface Augmented {
  data: Float32Array;
  rows: number;
  width: number;
}

/**
 * The MMD kernel sums on one SessionHost. `MmdKernel.forHost(host)` creates the graph's session once per host and
 * hands every later caller the same kernel, so a worker that keeps its host alive across checks builds it once;
 * the session lives as long as the host.
 */
export class MmdKernel {
  private static readonly byHost = new WeakMap<SessionHost, Promise<MmdKernel>>();

  static forHost(host: SessionHost): Promise<MmdKernel> {
    let kernel = MmdKernel.byHost.get(host);
    if (!kernel) {
      kernel = host.createSession(kernelSumsModel()).then((session) => new MmdKernel(session));
      MmdKernel.byHost.set(host, kernel);
      // A failed creation is not cached: the next caller tries again.
      kernel.catch(() => MmdKernel.byHost.delete(host));
    }
    return kernel;
  }

  private constructor(private readonly session: HostedSession) {}

  /**
   * MMD² of `ref` vs `cur` (at least 2 rows each). With `bandwidth` given, every session run is queued before this
   * returns, so synchronous work the caller does next (e.g. the per-feature tests) overlaps the kernel sums in the
   * worker; else they are queued once the median heuristic's run is back, i.e. when the caller next yields.
   */
  async compute(ref: Matrix, cur: Matrix, opts: MmdOptions = {}): Promise<MmdResult> {
    checkPair(ref, cur, 2);
    const mean = pooledMean(ref, cur);
    if (opts.bandwidth !== undefined) {
      checkBandwidth(opts.bandwidth);
      return this.mmd2(ref, cur, mean, opts.bandwidth);
    }
    return this.mmd2(ref, cur, mean, await this.median(ref, cur, mean, opts));
  }

  /** The median-heuristic σ that `compute` would use (module comment). */
  async bandwidth(ref: Matrix, cur: Matrix, opts: Omit<MmdOptions, 'bandwidth'> = {}): Promise<number> {
    checkPair(ref, cur, 2);
    return this.median(ref, cur, pooledMean(ref, cur), opts);
  }

  private async mmd2(ref: Matrix, cur: Matrix, mean: Float64Array, bandwidth: number): Promise<MmdResult> {
    const gamma = 1 / (2 * bandwidth * bandwidth);
    const scale = Math.sqrt(2 * gamma);
    const x = { left: augment(ref, mean, scale, -gamma, 'left'), right: augment(ref, mean, scale, -gamma, 'right') };
    const y = { left: augment(cur, mean, scale, -gamma, 'left'), right: augment(cur, mean, scale, -gamma, 'right') };
    const [xx, yy, xy] = await Promise.all([
      this.offDiagonalSum(x.left, x.right), this.offDiagonalSum(y.left, y.right), this.crossSum(x.left, y.right),
    ]);
    const m = ref.rows;
    const n = cur.rows;
    return { mmd2: xx / (m * (m - 1)) + yy / (n * (n - 1)) - (2 * xy) / (m * n), bandwidth };
  }

  /** Σ_{i≠j} k(x_i, x_j): the tiles on the diagonal less their diagonal, those above it counted twice. */
  private offDiagonalSum(left: Augmented, right: Augmented): Promise<number> {
    const parts: Promise<number>[] = [];
    const ranges = tiles(left.rows);
    ranges.forEach(([r0, r1], tile) => {
      const rows = rowRange(left, r0, r1);
      parts.push(this.rowSums(rows, rowRange(right, r0, r1)).then((s) => s - (r1 - r0)));
      for (const [c0, c1] of ranges.slice(tile + 1)) parts.push(this.rowSums(rows, rowRange(right, c0, c1)).then((s) => 2 * s));
    });
    return total(parts);
  }

  /** Σ_{i,j} k(x_i, y_j) over all tiles. */
  private crossSum(left: Augmented, right: Augmented): Promise<number> {
    const parts: Promise<number>[] = [];
    for (const [r0, r1] of tiles(left.rows)) {
      for (const [c0, c1] of tiles(right.rows)) parts.push(this.rowSums(rowRange(left, r0, r1), rowRange(right, c0, c1)));
    }
    return total(parts);
  }

  /** One run of the graph on a tile, fetching `output`. */
  private async tile(a: Augmented, b: Augmented, output: typeof PRODUCT | typeof EXP_ROW_SUMS): Promise<Float32Array> {
    const out = await this.session.run({ a: feed(a), b: feed(b) }, { fetch: [output], transfer: true });
    return out[output]!.data as Float32Array;
  }

  /** Σ exp(a·bᵀ) over a whole tile, the float32 row sums added in float64. */
  private async rowSums(a: Augmented, b: Augmented): Promise<number> {
    const sums = await this.tile(a, b, EXP_ROW_SUMS);
    let s = 0;
    for (let i = 0; i < sums.length; i++) s += sums[i]!;
    return s;
  }

  private async median(ref: Matrix, cur: Matrix, mean: Float64Array, opts: Omit<MmdOptions, 'bandwidth'>): Promise<number> {
    const cap = opts.medianSample ?? DEFAULT_MEDIAN_SAMPLE;
    if (!(Number.isInteger(cap) && cap >= 1)) throw new Error(`mmd: medianSample must be a positive integer, got ${cap}`);
    const rng = createRng(opts.seed ?? 0);
    const squared = await this.pairSquares(concatRows(ref, sampleRows(ref.rows, cap, rng), cur, sampleRows(cur.rows, cap, rng)), mean);
    const [lower, upper] = middlePair(squared);
    const median = (Math.sqrt(lower) + Math.sqrt(upper)) / 2;
    if (median > 0) return median;
    let sum = 0;
    for (let i = 0; i < squared.length; i++) sum += Math.sqrt(squared[i]!);
    return sum > 0 ? sum / squared.length : 1;
  }

  /** ‖p_i − p_j‖² for every pair i < j of rows (centred on `mean`), in no particular order. */
  private async pairSquares(points: Matrix, mean: Float64Array): Promise<Float32Array> {
    // Distances folded in: [p, ‖p‖², 1]·[−2q, 1, ‖q‖²] = ‖p−q‖².
    const left = augment(points, mean, 1, 1, 'left');
    const right = augment(points, mean, -2, 1, 'right');
    const count = points.rows;
    const norms = Float64Array.from({ length: count }, (_, i) => left.data[i * left.width + left.width - 2]!);
    const squared = new Float32Array((count * (count - 1)) / 2);
    const runs: Promise<void>[] = [];
    let offset = 0;
    const ranges = tiles(count);
    ranges.forEach(([r0, r1], tile) => {
      for (const [c0, c1] of ranges.slice(tile)) {
        const at = offset;
        const diagonal = c0 === r0;
        offset += diagonal ? ((r1 - r0) * (r1 - r0 - 1)) / 2 : (r1 - r0) * (c1 - c0);
        runs.push(this.tile(rowRange(left, r0, r1), rowRange(right, c0, c1), PRODUCT).then((product) => {
          const cols = c1 - c0;
          let k = at;
          for (let i = r0; i < r1; i++) {
            const row = (i - r0) * cols;
            // On a diagonal tile, only the pairs right of the diagonal.
            for (let j = diagonal ? i + 1 : c0; j < c1; j++) {
              squared[k++] = resolvedSquare(product[row + j - c0]!, norms[i]! + norms[j]!);
            }
          }
        }));
      }
    });
    await Promise.all(runs);
    return squared;
  }
}

/**
 * Distribution-free acceptance bound for the unbiased MMD² at level `alpha`, for a kernel bounded by K = 1 like
 * the Gaussian: Gretton et al. (2012), Theorem 10 and Corollary 11, with Hoeffding's (1963) bound for two-sample
 * U-statistics so that m ≠ n is allowed:
 *
 *   reject p = q when MMD²_u ≥ K·√(8·ln(1/α) / ⌊min(m, n)/2⌋),
 *
 * which for m = n is Corollary 11's 4K·√(ln(1/α)/m). The false-alarm rate is at most α for any distribution
 * and a bandwidth fixed before seeing the data; it is very conservative (for 5000 vs 5000 at α = 0.05 it is
 * about 0.098, while null MMD² values are of order 1/n), so it flags only gross drift.
 */
export function mmdThreshold(m: number, n: number, alpha: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new Error(`mmdThreshold: alpha must lie in (0, 1), got ${alpha}`);
  const pairs = Math.floor(Math.min(m, n) / 2);
  if (!(pairs >= 1)) throw new Error(`mmdThreshold: each window needs at least 2 rows (got ${m} and ${n})`);
  return Math.sqrt((8 * Math.log(1 / alpha)) / pairs);
}

/**
 * Rounding in the float32 Gemm leaves ‖p‖² + ‖q‖² − 2p·q off by up to ~K·ε·(‖p‖² + ‖q‖²) (K columns, ε = 6e-8),
 * so squared distances below this share of the two squared norms are indistinguishable from 0. Reading them as
 * 0 lets coinciding points count as coinciding, which the median's fallback relies on.
 */
const GEMM_RESOLUTION = 1e-5;

function resolvedSquare(square: number, norms: number): number {
  return square < GEMM_RESOLUTION * norms ? 0 : square;
}

function checkBandwidth(bandwidth: number): void {
  if (!(Number.isFinite(bandwidth) && bandwidth > 0)) throw new Error(`mmd: bandwidth must be positive and finite, got ${bandwidth}`);
}

/** [start, end) row ranges of at most TILE_ROWS rows covering 0..rows, of near-equal sizes. */
function tiles(rows: number): [number, number][] {
  const count = Math.ceil(rows / TILE_ROWS);
  return Array.from({ length: count }, (_, i) => [Math.floor((i * rows) / count), Math.floor(((i + 1) * rows) / count)]);
}

/** Mean of the two windows together. */
function pooledMean(ref: Matrix, cur: Matrix): Float64Array {
  const [a, b] = [columnMeans(ref), columnMeans(cur)];
  return a.map((v, c) => (v * ref.rows + b[c]! * cur.rows) / (ref.rows + cur.rows));
}

/**
 * The rows of `m` minus `mean`, scaled by `scale`, with columns [coef·‖x−mean‖², 1] ('left') or
 * [1, coef·‖x−mean‖²] ('right') appended.
 */
function augment(m: Matrix, mean: Float64Array, scale: number, coef: number, side: 'left' | 'right'): Augmented {
  const count = m.rows;
  const d = m.cols;
  const width = d + 2;
  const data = new Float32Array(count * width);
  for (let r = 0; r < count; r++) {
    const src = r * d;
    const dst = r * width;
    let norm = 0;
    for (let c = 0; c < d; c++) {
      const v = m.data[src + c]! - mean[c]!;
      norm += v * v;
      data[dst + c] = scale * v;
    }
    data[dst + d] = side === 'left' ? coef * norm : 1;
    data[dst + d + 1] = side === 'left' ? 1 : coef * norm;
  }
  return { data, rows: count, width };
}

/** At most `cap` distinct row indices of `rows`, drawn by a partial Fisher–Yates shuffle; null for all rows. */
function sampleRows(rows: number, cap: number, rng: Rng): Int32Array | null {
  if (rows <= cap) return null;
  const index = Int32Array.from({ length: rows }, (_, i) => i);
  for (let i = 0; i < cap; i++) {
    const j = i + rng.int(rows - i);
    const t = index[i]!;
    index[i] = index[j]!;
    index[j] = t;
  }
  return index.subarray(0, cap);
}

/** The chosen rows of `a` then of `b` (null: all) as one matrix. */
function concatRows(a: Matrix, aRows: Int32Array | null, b: Matrix, bRows: Int32Array | null): Matrix {
  const d = a.cols;
  const parts = [[a, aRows], [b, bRows]] as const;
  const rows = parts.reduce((s, [m, r]) => s + (r ? r.length : m.rows), 0);
  const data = new Float32Array(rows * d);
  let at = 0;
  for (const [m, r] of parts) {
    if (!r) {
      data.set(m.data, at);
      at += m.data.length;
      continue;
    }
    for (const i of r) {
      data.set(m.data.subarray(i * d, (i + 1) * d), at);
      at += d;
    }
  }
  return { data, rows, cols: d };
}

function rowRange(m: Augmented, r0: number, r1: number): Augmented {
  return { data: m.data.subarray(r0 * m.width, r1 * m.width), rows: r1 - r0, width: m.width };
}

/**
 * A copy of the rows in a buffer of their own, for a run with `transfer`: one copy in all, where a view would be
 * copied out and then cloned again by postMessage. (ONNX Runtime rejects shared buffers, which would need none.)
 */
function feed(m: Augmented): { type: 'float32'; dims: number[]; data: Float32Array } {
  return { type: 'float32', dims: [m.rows, m.width], data: m.data.slice() };
}

async function total(parts: Promise<number>[]): Promise<number> {
  let sum = 0;
  for (const p of await Promise.all(parts)) sum += p;
  return sum;
}
