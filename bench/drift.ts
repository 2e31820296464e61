/**
 * One full embedding-drift check (MMD², KS with Bonferroni, CvM with Benjamini–Hochberg, Hellinger, mean distance)
 * of two windows of `rows` × `width` float32 embeddings, as the drift trigger runs it: the MMD kernel sums queued in
 * the session host's worker (warm: session created, σ by the median heuristic) while the per-feature statistics run
 * on the main thread. Rounds interleave, each with:
 * - `drift_check_ms`: the whole check, wall time;
 * - `parts`: each metric alone, in sequence (their sum exceeds the check by what the overlap saves);
 * - the raw baseline: MMD²'s kernel sums as a plain float64 JS double loop, on the first `baselineRows` rows of each
 *   window (a full-size loop would take minutes), with the check's σ; extrapolated to full size by the pair count,
 *   (rows / baselineRows)², and set against the MMD part.
 * Figures are medians over the rounds, with min and max. Run: npx tsx bench/drift.ts [rows] [width] [rounds]
 */
import { fileURLToPath } from 'node:url';
import { featureDrift, hellinger, meanDistance, MmdKernel, type Matrix } from '../lib/eval/drift/index.js';
import { SessionHost } from '../lib/onnx/session-host.js';
import { createRng } from '../lib/rng.js';

export interface DriftBenchOptions {
  rows: number;
  width: number;
  rounds: number;
  baselineRows: number;
  log?: (line: string) => void;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export async function benchDrift(opts: DriftBenchOptions) {
  const log = opts.log ?? (() => {});
  const ref = gaussian(opts.rows, opts.width, 1, 0);
  // A mild shift: every statistic has work to do and none is degenerate.
  const cur = gaussian(opts.rows, opts.width, 2, 0.05);
  const host = new SessionHost();
  try {
    const kernel = await MmdKernel.forHost(host);
    const runs = {
      check: [] as number[], mmd: [] as number[], ks: [] as number[], cvm: [] as number[], hellinger: [] as number[],
      meanDistance: [] as number[], baseline: [] as number[],
    };
    // Round 0 warms the JIT, ORT's allocations and the worker; it is not counted.
    for (let round = 0; round <= opts.rounds; round++) {
      const check = await timed(() => fullCheck(kernel, ref, cur));
      const mmd = await timed(() => kernel.compute(ref, cur));
      const ks = await timed(async () => featureDrift(ref, cur, 'ks', { correction: 'bonferroni', pValue: 0.05 }));
      const cvm = await timed(async () => featureDrift(ref, cur, 'cvm', { correction: 'fdr', pValue: 0.05 }));
      const hel = await timed(async () => hellinger(ref, cur));
      const mean = await timed(async () => meanDistance(ref, cur));
      const baseline = await timed(async () => naiveKernelSums(head(ref, opts.baselineRows), head(cur, opts.baselineRows), mmd.value.bandwidth));
      log(`round ${round}${round === 0 ? ' (warm-up)' : ''}: check ${check.ms.toFixed(0)} ms (mmd ${mmd.ms.toFixed(0)}, ks ${ks.ms.toFixed(0)}, `
        + `cvm ${cvm.ms.toFixed(0)}, hellinger ${hel.ms.toFixed(0)}, mean ${mean.ms.toFixed(1)}), naive kernel sums on `
        + `${opts.baselineRows} rows ${baseline.ms.toFixed(0)} ms; mmd2 ${mmd.value.mmd2.toExponential(3)}`);
      if (round === 0) continue;
      runs.check.push(check.ms);
      runs.mmd.push(mmd.ms);
      runs.ks.push(ks.ms);
      runs.cvm.push(cvm.ms);
      runs.hellinger.push(hel.ms);
      runs.meanDistance.push(mean.ms);
      runs.baseline.push(baseline.ms);
    }
    const pairScale = (opts.rows / opts.baselineRows) ** 2;
    const mmd = spread(runs.mmd);
    const naiveFullMs = spread(runs.baseline).median * pairScale;
    return {
      drift_check_ms: spread(runs.check).median,
      drift_check: { ...spread(runs.check), rows: opts.rows, width: opts.width, rounds: opts.rounds },
      parts_ms: {
        mmd, ks: spread(runs.ks), cvm: spread(runs.cvm), hellinger: spread(runs.hellinger), meanDistance: spread(runs.meanDistance),
      },
      naive_kernel_sums: {
        rows: opts.baselineRows, ms: spread(runs.baseline), extrapolated_full_ms: round1(naiveFullMs), mmd_speedup: round1(naiveFullMs / mmd.median),
      },
    };
  } finally {
    await host.close();
  }
}

/**
 * The check as a trigger runs it: σ first (one worker run), then every kernel-sum run queued before the per-feature
 * statistics take the main thread.
 */
async function fullCheck(kernel: MmdKernel, ref: Matrix, cur: Matrix) {
  const bandwidth = await kernel.bandwidth(ref, cur);
  const mmd = kernel.compute(ref, cur, { bandwidth });
  const ks = featureDrift(ref, cur, 'ks', { correction: 'bonferroni', pValue: 0.05 });
  const cvm = featureDrift(ref, cur, 'cvm', { correction: 'fdr', pValue: 0.05 });
  return { mmd: await mmd, ks, cvm, hellinger: hellinger(ref, cur), meanDistance: meanDistance(ref, cur) };
}

/** The three kernel sums of the unbiased MMD², float64, one pair at a time: what the ONNX graph replaces. */
function naiveKernelSums(x: Matrix, y: Matrix, bandwidth: number): number {
  const gamma = 1 / (2 * bandwidth * bandwidth);
  const d = x.cols;
  const sum = (a: Matrix, b: Matrix, skipDiagonal: boolean): number => {
    let s = 0;
    for (let i = 0; i < a.rows; i++) {
      for (let j = 0; j < b.rows; j++) {
        if (skipDiagonal && i === j) continue;
        let dist = 0;
        for (let c = 0; c < d; c++) {
          const t = a.data[i * d + c]! - b.data[j * d + c]!;
          dist += t * t;
        }
        s += Math.exp(-gamma * dist);
      }
    }
    return s;
  };
  const [m, n] = [x.rows, y.rows];
  return sum(x, x, true) / (m * (m - 1)) + sum(y, y, true) / (n * (n - 1)) - (2 * sum(x, y, false)) / (m * n);
}

function gaussian(rows: number, cols: number, seed: number, shift: number): Matrix {
  const rng = createRng(seed);
  return { data: Float32Array.from({ length: rows * cols }, () => rng.normal() + shift), rows, cols };
}

function head(m: Matrix, rows: number): Matrix {
  return { data: m.data.subarray(0, rows * m.cols), rows, cols: m.cols };
}

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { ms: performance.now() - t0, value };
}

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median: round1(median), min: round1(sorted[0]!), max: round1(sorted.at(-1)!) };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [rows, width, rounds] = [Number(process.argv[2] ?? 5000), Number(process.argv[3] ?? 64), Number(process.argv[4] ?? 7)];
  const result = await benchDrift({ rows, width, rounds, baselineRows: Math.min(rows, 1000), log: (line) => console.error(line) });
  console.log(JSON.stringify(result, null, 2));
}
