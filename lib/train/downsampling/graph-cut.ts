/**
 * Graph cut f(A) = Σ_{i∈V, j∈A} S_ij − λ·Σ_{i,j∈A} S_ij: representative of all samples, penalized for redundancy
 * within A. Submodular for S ≥ 0; monotone only for λ ≤ 0.5.
 */
import type { SubmodularFunction } from './greedy.js';
import type { Similarity } from './similarity.js';

/**
 * DeepCore's GraphCut (used by Modyn) has gain λ·Σ_i S_ic − 2·Σ_{j∈A} S_jc with λ = 1, i.e. this f at λ = 1 (at
 * λ = 1 it does not matter which term λ weighs). Its gain here adds −S_cc, which cosine similarity makes 1 for
 * every nonzero gradient, so the picks are Modyn's. (submodlib's monotone default λ = 0.5 would pick differently.)
 */
const lambda = 1;

/** State: each sample's total similarity to the chosen set. */
export function graphCut({ values, size }: Similarity): SubmodularFunction<Float64Array> {
  const toAll = new Float64Array(size);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) toAll[j]! += values[i * size + j]!;
  return {
    size,
    empty: () => new Float64Array(size),
    gain: (toChosen, c) => toAll[c]! - lambda * (2 * toChosen[c]! + values[c * size + c]!),
    add(toChosen, c) {
      for (let i = 0, row = c * size; i < size; i++) toChosen[i]! += values[row + i]!;
    },
  };
}
