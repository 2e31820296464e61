/**
 * k draws WITH replacement, sample i with probability p_i = score_i / Σ score; a pick's weight is 1/(k·p_i), so
 * Σ_picks w·x is an unbiased estimate of Σ_i x_i over the samples with a positive score (x = loss, gradient, 1),
 * and the weights sum to n in expectation when every score is positive. Modyn draws without replacement with the
 * same weights, which biases that estimate; drawing with replacement keeps it exact.
 */
import type { Rng } from '../../rng.js';
import { checkBudget } from './budget.js';
import type { Picks } from './scored-samples.js';

export function importanceSample(scores: Float64Array, k: number, rng: Rng, scoreName: string): Picks {
  const n = scores.length;
  checkBudget(k, n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const score = scores[i]!;
    if (!Number.isFinite(score) || score < 0) throw new Error(`downsampling: the ${scoreName} of sample ${i} is ${score}, not a finite non-negative number`);
    sum += score;
  }
  // All-zero scores (a perfectly fit batch) carry no preference: sample uniformly.
  const mass = sum > 0 ? scores : new Float64Array(n).fill(1);
  const cumulative = new Float64Array(n);
  let total = 0;
  let lastPositive = 0;
  for (let i = 0; i < n; i++) {
    total += mass[i]!;
    cumulative[i] = total;
    if (mass[i]! > 0) lastPositive = i;
  }
  const indexes = new Uint32Array(k);
  const weights = new Float32Array(k);
  for (let r = 0; r < k; r++) {
    const u = rng.next() * total;
    // First i with cumulative[i] > u: zero-score samples add no width, so they are never hit. Searching up to
    // lastPositive also absorbs u rounding up to `total`.
    let lo = 0;
    let hi = lastPositive;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    indexes[r] = lo;
    weights[r] = total / (k * mass[lo]!);
  }
  return { indexes, weights };
}
