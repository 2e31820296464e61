/**
 * RS2, repeated random sampling (Okanovic et al.; Modyn's `RS2`): no model, a new uniform subset of k every epoch.
 * Weights 1. A pure function of (n, k, epoch, seed), so a resumed training run picks the same subsets.
 */
import { createRng } from '../../rng.js';
import { checkBudget } from './budget.js';
import type { Picks } from './scored-samples.js';
import { derivedSeed } from './seeds.js';

export interface Rs2Options {
  /** true: each epoch a fresh uniform subset; false: disjoint subsets cycling through every sample. */
  withReplacement: boolean;
}

/**
 * withReplacement: epoch e trains on a uniform k-subset seeded by (seed, e). Without: a pass of ceil(n/k) epochs
 * walks a seeded permutation of all n in chunks of k, so every sample is trained on once per pass; a short last
 * chunk is topped up with the pass's first samples (Modyn drops those n mod k samples from the pass instead). The
 * next pass walks a new permutation.
 */
export function rs2(n: number, k: number, epoch: number, seed: number, withReplacement: boolean): Picks {
  checkBudget(k, n);
  if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`downsampling: rs2 epoch = ${epoch} must be a non-negative integer`);
  const weights = new Float32Array(k).fill(1);
  if (withReplacement) return { indexes: shuffledPrefix(n, k, derivedSeed(seed, epoch)), weights };
  const chunks = Math.ceil(n / k);
  const order = shuffledPrefix(n, n, derivedSeed(seed, Math.floor(epoch / chunks)));
  const start = (epoch % chunks) * k;
  const indexes = new Uint32Array(k);
  const chunk = order.subarray(start, start + k);
  indexes.set(chunk);
  indexes.set(order.subarray(0, k - chunk.length), chunk.length);
  return { indexes, weights };
}

/** The first `length` entries of a seeded uniform permutation of 0..n−1 (partial Fisher–Yates). */
function shuffledPrefix(n: number, length: number, seed: number): Uint32Array {
  const rng = createRng(seed);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < length; i++) {
    const j = i + rng.int(n - i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.subarray(0, length);
}
