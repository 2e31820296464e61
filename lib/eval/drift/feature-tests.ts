/**
 * Per-dimension two-sample tests with a multiple-testing correction, as alibi-detect's KSDrift and CVMDrift: one
 * test per embedding dimension, then Bonferroni or Benjamini–Hochberg across the dimensions at level `pValue`.
 */
import { bonferroni, fdr } from './corrections.js';
import { cvm2sampSorted } from './cvm.js';
import { ks2sampSorted, type TestResult } from './ks.js';
import { checkPair, sortedColumn, type Matrix } from './matrix.js';

export type FeatureTest = 'ks' | 'cvm';

export interface FeatureDriftOptions {
  correction: 'bonferroni' | 'fdr';
  /** Level of the corrected family test, e.g. 0.05. */
  pValue: number;
}

export interface FeatureDriftResult {
  /** Mean over dimensions of the per-dimension statistic (KS D or CvM T). */
  statistic: number;
  /** Smallest adjusted p-value. */
  minPValue: number;
  /** Dimensions whose adjusted p-value is below `pValue`. */
  driftedDims: number;
  drift: boolean;
}

const TESTS: Record<FeatureTest, { minRows: number; run: (a: Float64Array, b: Float64Array) => TestResult }> = {
  ks: { minRows: 1, run: ks2sampSorted },
  cvm: { minRows: 2, run: cvm2sampSorted },
};

export function featureDrift(ref: Matrix, cur: Matrix, test: FeatureTest, opts: FeatureDriftOptions): FeatureDriftResult {
  const { minRows, run } = TESTS[test];
  checkPair(ref, cur, minRows);
  const a = new Float64Array(ref.rows);
  const b = new Float64Array(cur.rows);
  const pValues = new Float64Array(ref.cols);
  let statistic = 0;
  for (let c = 0; c < ref.cols; c++) {
    const result = run(sortedColumn(ref, c, a), sortedColumn(cur, c, b));
    statistic += result.statistic;
    pValues[c] = result.pValue;
  }
  const corrected = (opts.correction === 'fdr' ? fdr : bonferroni)(pValues, opts.pValue);
  return {
    statistic: statistic / ref.cols,
    minPValue: Math.min(...corrected.adjusted),
    driftedDims: corrected.rejected,
    drift: corrected.drift,
  };
}
