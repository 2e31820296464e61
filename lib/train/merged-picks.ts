import type { Picks } from './downsampling/index.js';

/**
 * Picks of `keys` as distinct keys, ascending, each with the summed weight of its picks: importance sampling draws
 * with replacement, and a sample drawn twice contributes to the weighted loss exactly as once with twice the weight.
 */
export function mergedPicks(keys: Float64Array, picks: Picks): { keys: Float64Array; weights: Float32Array } {
  const weightOf = new Map<number, number>();
  picks.indexes.forEach((i, p) => weightOf.set(i, (weightOf.get(i) ?? 0) + picks.weights[p]!));
  const indexes = [...weightOf.keys()].sort((a, b) => a - b);
  return { keys: Float64Array.from(indexes, (i) => keys[i]!), weights: Float32Array.from(indexes, (i) => weightOf.get(i)!) };
}
