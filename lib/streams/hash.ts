/**
 * A 32-bit hash of a few integers (murmur3's finalizer over each): derives independent seeds, ids and per-id
 * values from a stream's seed, so that seed s and s + 1 share no random sequence.
 */
export function hash32(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}
