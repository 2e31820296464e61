/**
 * Multiple-testing corrections across embedding dimensions: one test per dimension, one decision for the window.
 * The family rejects (drift) when some adjusted p-value is strictly below alpha, as alibi-detect decides.
 */

export interface CorrectionResult {
  /** Whether the family rejects: some dimension's adjusted p-value is below alpha. */
  drift: boolean;
  /** Adjusted p-values, in the order of the input. */
  adjusted: Float64Array;
  /** How many dimensions reject. */
  rejected: number;
}

/** Bonferroni: p·k capped at 1 (k tests); controls the family-wise error rate at alpha. */
export function bonferroni(pValues: ArrayLike<number>, alpha: number): CorrectionResult {
  const k = pValues.length;
  return decide(Float64Array.from(pValues, (p) => Math.min(1, p * k)), alpha);
}

/**
 * Benjamini–Hochberg (false discovery rate at alpha): with p₍₁₎ ≤ … ≤ p₍ₖ₎, the adjusted value of p₍ᵢ₎ is
 * min_{j ≥ i} min(1, p₍ⱼ₎·k/j). Some adjusted value is below alpha exactly when some p₍ⱼ₎ < alpha·j/k, the
 * step-up rule, and the dimensions it rejects are those with adjusted values below alpha.
 */
export function fdr(pValues: ArrayLike<number>, alpha: number): CorrectionResult {
  const k = pValues.length;
  const order = Array.from({ length: k }, (_, i) => i).sort((a, b) => pValues[a]! - pValues[b]!);
  const adjusted = new Float64Array(k);
  let running = 1;
  for (let rank = k; rank >= 1; rank--) {
    const i = order[rank - 1]!;
    running = Math.min(running, (pValues[i]! * k) / rank);
    adjusted[i] = running;
  }
  return decide(adjusted, alpha);
}

function decide(adjusted: Float64Array, alpha: number): CorrectionResult {
  if (!(alpha > 0 && alpha < 1)) throw new Error(`correction: alpha must lie in (0, 1), got ${alpha}`);
  let rejected = 0;
  for (const p of adjusted) if (p < alpha) rejected++;
  return { drift: rejected > 0, adjusted, rejected };
}
