/**
 * GradMatch (Killamsetty et al.; Modyn's `GradMatch`): OMP over per-sample last-layer gradients so the picks'
 * weighted gradient matches the sum of all the samples' gradients. The target is the sum (Modyn: the mean), so a
 * weight reads as the number of samples a pick stands for, like CRAIG's cluster sizes and 1/(k·p) importance weights.
 */
import type { Rng } from '../../rng.js';
import { checkBudget } from './budget.js';
import { lastLayerGradients, type FullGradApproximation, type GradientRows } from './last-layer-gradients.js';
import { orthogonalMatchingPursuit } from './omp.js';
import { balanceParts, selectInParts } from './partitions.js';
import { checkScoredSamples, type Picks, type ScoredSamples } from './scored-samples.js';

export interface GradMatchOptions {
  fullGradApproximation: FullGradApproximation;
  /** Each label gets its proportional share of k, matching that label's gradient sum. */
  balance: boolean;
}

export function gradMatch(samples: ScoredSamples, k: number, options: GradMatchOptions, rng: Rng): Picks {
  checkScoredSamples(samples);
  checkBudget(k, samples.n);
  const parts = balanceParts(samples, options.balance);
  return selectInParts(samples, parts, k, (part, kPart) => matchGradients(lastLayerGradients(part, options.fullGradApproximation), kPart, rng));
}

/**
 * OMP's picks with their coefficients as weights (a pick NNLS later dropped keeps weight 0, so there are always k
 * picks). When OMP stops early because the sum is matched (or no row can improve the match), the rest are
 * seeded-uniform unpicked samples at the smallest positive coefficient: they add data at the least weight any pick
 * has, and barely move the matched gradient (weight n/k if nothing got a positive coefficient, e.g. a zero sum).
 */
function matchGradients({ data, dim }: GradientRows, k: number, rng: Rng): Picks {
  const n = data.length / dim;
  const target = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let e = 0; e < dim; e++) target[e]! += data[i * dim + e]!;
  const omp = orthogonalMatchingPursuit(data, dim, target, k);
  const indexes = new Uint32Array(k);
  const weights = new Float32Array(k);
  indexes.set(omp.indexes);
  weights.set(omp.coefficients);
  const picked = omp.indexes.length;
  if (picked === k) return { indexes, weights };
  let smallest = Infinity;
  for (const x of omp.coefficients) if (x > 0) smallest = Math.min(smallest, x);
  const padWeight = Number.isFinite(smallest) ? smallest : n / k;
  const isPicked = new Uint8Array(n);
  for (const i of omp.indexes) isPicked[i] = 1;
  const unpicked = Uint32Array.from({ length: n }, (_, i) => i).filter((i) => !isPicked[i]);
  for (let r = 0; r < k - picked; r++) {
    const j = r + rng.int(unpicked.length - r);
    [unpicked[r], unpicked[j]] = [unpicked[j]!, unpicked[r]!];
    indexes[picked + r] = unpicked[r]!;
    weights[picked + r] = padWeight;
  }
  return { indexes, weights };
}
