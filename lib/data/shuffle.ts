import { createRng } from '../rng.js';

/**
 * Deterministic shuffling for the loader: the order of a partition depends only on
 * (seed, epoch, partition index), so a resumed epoch replays exactly the same batches.
 */

/** Fisher–Yates permutation of 0..n-1. */
export function shuffledOrder(n: number, seed: number, epoch: number, partition: number): Uint32Array {
  const rng = createRng(mix(mix(mix(mix(0x9e3779b9, seed >>> 0), Math.floor(seed / 2 ** 32) >>> 0), epoch >>> 0), partition >>> 0));
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** Folds `value` into hash state `h` (murmur3 finalizer), so nearby seeds give unrelated streams. */
function mix(h: number, value: number): number {
  h = Math.imul(h ^ value, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
