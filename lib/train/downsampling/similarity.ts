/** Pairwise similarities of per-sample vectors, non-negative as facility location and graph cut need. */
import type { GradientSpace } from './last-layer-gradients.js';

/** Symmetric, row-major [size, size]. */
export interface Similarity {
  values: Float32Array;
  size: number;
}

/**
 * 0.5 + 0.5·cos(a_i, a_j) ∈ [0, 1], DeepCore's `cossim` (what Modyn's Submodular uses). A zero vector (a sample
 * the model fits perfectly) has cosine 0 with every vector, itself included, where DeepCore would produce NaN.
 */
export function cosineSimilarity(space: GradientSpace): Similarity {
  const { size } = space;
  const norms = Float64Array.from({ length: size }, (_, i) => Math.sqrt(space.dot(i, i)));
  const values = new Float32Array(size * size);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j <= i; j++) {
      const denominator = norms[i]! * norms[j]!;
      const s = 0.5 + (denominator > 0 ? (0.5 * space.dot(i, j)) / denominator : 0);
      values[i * size + j] = s;
      values[j * size + i] = s;
    }
  }
  return { values, size };
}

/**
 * max_{i,j} ‖a_i − a_j‖ − ‖a_i − a_j‖ ≥ 0: CRAIG's similarity (Modyn's RemoteCraigDownsampling). Modyn adds 1e-3
 * on top; a constant shifts every facility-location gain of the first pick alike and no later gain, so it changes
 * no pick. Distances come from inner products in float64: ‖a − b‖² = a·a + b·b − 2a·b.
 */
export function distanceSimilarity(space: GradientSpace): Similarity {
  const { size } = space;
  const squares = Float64Array.from({ length: size }, (_, i) => space.dot(i, i));
  const values = new Float32Array(size * size);
  let max = 0;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < i; j++) {
      const d = Math.sqrt(Math.max(0, squares[i]! + squares[j]! - 2 * space.dot(i, j)));
      values[i * size + j] = d;
      max = Math.max(max, d);
    }
  }
  for (let i = 0; i < size; i++) {
    values[i * size + i] = max;
    for (let j = 0; j < i; j++) {
      const s = max - values[i * size + j]!;
      values[i * size + j] = s;
      values[j * size + i] = s;
    }
  }
  return { values, size };
}
