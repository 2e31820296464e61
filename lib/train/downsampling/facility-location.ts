/**
 * Facility location f(A) = Σ_i max_{j∈A} S_ij (0 for A = ∅, S ≥ 0): how well the chosen samples represent every
 * sample. Monotone submodular.
 */
import type { SubmodularFunction } from './greedy.js';
import type { Similarity } from './similarity.js';

/** State: each sample's best similarity to the chosen set. */
export function facilityLocation({ values, size }: Similarity): SubmodularFunction<Float64Array> {
  return {
    size,
    empty: () => new Float64Array(size),
    gain(best, c) {
      // S is symmetric, so row c holds column c contiguously.
      let g = 0;
      for (let i = 0, row = c * size; i < size; i++) g += Math.max(0, values[row + i]! - best[i]!);
      return g;
    },
    add(best, c) {
      for (let i = 0, row = c * size; i < size; i++) best[i] = Math.max(best[i]!, values[row + i]!);
    },
  };
}
