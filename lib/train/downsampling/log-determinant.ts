/**
 * Log-determinant f(A) = log det(S_AA + λI), λ = 1: the volume the chosen samples span, high for diverse picks.
 * Submodular for positive semi-definite S (cosine similarity is). DeepCore's LogDeterminant (in Modyn) scores the
 * quadratic form S_cA·S_AA⁺·S_Ac instead, which rewards redundancy; this is the log-det gain itself.
 */
import type { SubmodularFunction } from './greedy.js';
import type { Similarity } from './similarity.js';

const lambda = 1;

/**
 * The gain of c is log of its conditional variance S_cc + λ − ‖L⁻¹ S_Ac‖² (L: Cholesky factor of S_AA + λI).
 * Adding j appends a row to L, and each candidate's L⁻¹ S_Ac gains one entry e_c, which lowers its variance by
 * e_c² (the incremental Cholesky of fast greedy DPP MAP, Chen et al. 2018): O(size·|A|) per addition, O(1) per gain.
 */
interface LogDeterminantState {
  variance: Float64Array;
  /** Per chosen sample, in order: entry e_c of every candidate c. */
  entries: Float64Array[];
}

export function logDeterminant({ values, size }: Similarity): SubmodularFunction<LogDeterminantState> {
  return {
    size,
    empty: () => ({ variance: Float64Array.from({ length: size }, (_, c) => values[c * size + c]! + lambda), entries: [] }),
    gain: ({ variance }, c) => Math.log(variance[c]!),
    add({ variance, entries }, j) {
      // e_c = (S_jc − Σ_t earlier_t[j]·earlier_t[c]) / √variance_j, one contiguous pass per earlier pick.
      const e = Float64Array.from(values.subarray(j * size, (j + 1) * size));
      for (const earlier of entries) {
        const w = earlier[j]!;
        for (let c = 0; c < size; c++) e[c]! -= w * earlier[c]!;
      }
      const d = Math.sqrt(variance[j]!);
      for (let c = 0; c < size; c++) {
        e[c]! /= d;
        variance[c]! -= e[c]! ** 2;
      }
      entries.push(e);
    },
  };
}
