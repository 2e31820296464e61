/**
 * Orthogonal matching pursuit with non-negative coefficients: choose rows a_j of A [n, dim] one at a time so that
 * Σ x_j a_j, x ≥ 0, matches a target b. Each step picks the unpicked row most correlated with the residual
 * (largest a_j·r, signed and unnormalized as DeepCore's OMP, since only a positive coefficient can use it), then
 * re-solves non-negative least squares on all picked rows. DeepCore/CORDS instead solve ridge least squares
 * (λ = 1) each step and NNLS only at the end; solving NNLS every step keeps each residual the one the final
 * weights achieve, which is also what decides the next pick.
 */
import { GrowingNnls } from './nnls.js';

export interface OmpResult {
  /** Picked rows, in the order picked. */
  indexes: Uint32Array;
  /** x ≥ 0 per picked row; 0 where non-negativity dropped a row picked earlier. */
  coefficients: Float64Array;
  /** ‖b − Σ x_j a_j‖ after each step: non-increasing, since the previous x stays feasible. */
  residualNorms: Float64Array;
}

/** cos(row, residual) at or below this is rounding, not a direction left to match. */
const uncorrelated = 1e-9;

/**
 * Up to k picks, fewer when no unpicked row correlates positively with the residual any more (b is matched, or
 * no row can reduce the residual). O(k·n·dim) for the correlations, O(k·p²) for the fits with p passive rows.
 */
export function orthogonalMatchingPursuit(rows: Float32Array, dim: number, target: Float64Array, k: number): OmpResult {
  const n = rows.length / dim;
  const rowNorms = new Float64Array(n);
  for (let i = 0; i < n; i++) rowNorms[i] = Math.sqrt(dot(rows, i * dim, rows, i * dim, dim));
  const targetNorm = Math.sqrt(dot(target, 0, target, 0, dim));
  const isPicked = new Uint8Array(n);
  const picked: number[] = [];
  const residualNorms: number[] = [];
  const fit = new GrowingNnls();
  const residual = Float64Array.from(target);
  while (picked.length < k) {
    let best = -1;
    let bestCorrelation = 0;
    for (let i = 0; i < n; i++) {
      if (isPicked[i]) continue;
      const c = rowDot(rows, i * dim, residual, dim);
      if (best < 0 || c > bestCorrelation) [best, bestCorrelation] = [i, c];
    }
    if (!(bestCorrelation > uncorrelated * rowNorms[best]! * targetNorm)) break;
    const products = new Float64Array(picked.length + 1);
    picked.forEach((j, a) => (products[a] = dot(rows, best * dim, rows, j * dim, dim)));
    products[picked.length] = rowNorms[best]! ** 2;
    fit.addColumn(products, rowDot(rows, best * dim, target, dim), uncorrelated * rowNorms[best]! * targetNorm);
    picked.push(best);
    isPicked[best] = 1;
    fit.solve();
    residual.set(target);
    picked.forEach((j, a) => {
      const x = fit.x[a]!;
      if (x > 0) for (let e = 0; e < dim; e++) residual[e]! -= x * rows[j * dim + e]!;
    });
    residualNorms.push(Math.sqrt(dot(residual, 0, residual, 0, dim)));
  }
  return { indexes: Uint32Array.from(picked), coefficients: Float64Array.from(fit.x), residualNorms: Float64Array.from(residualNorms) };
}

/**
 * A row times a float64 vector with four running sums: this is OMP's hot loop (n·dim per step), and V8 runs it
 * about twice as fast as one sum, as long as it only ever sees these two array types.
 */
function rowDot(rows: Float32Array, offset: number, v: Float64Array, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let e = 0;
  for (; e + 3 < dim; e += 4) {
    s0 += rows[offset + e]! * v[e]!;
    s1 += rows[offset + e + 1]! * v[e + 1]!;
    s2 += rows[offset + e + 2]! * v[e + 2]!;
    s3 += rows[offset + e + 3]! * v[e + 3]!;
  }
  for (; e < dim; e++) s0 += rows[offset + e]! * v[e]!;
  return s0 + s1 + (s2 + s3);
}

function dot(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, dim: number): number {
  let sum = 0;
  for (let e = 0; e < dim; e++) sum += a[i + e]! * b[j + e]!;
  return sum;
}
