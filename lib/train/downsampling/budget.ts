/** How many samples to pick: the budget k, and its split over groups (classes, blocks). */

export function checkBudget(k: number, n: number): void {
  if (!Number.isInteger(k) || k < 1 || k > n) throw new Error(`downsampling: k = ${k} must be an integer in [1, ${n}]`);
}

/**
 * k split over groups in proportion to their sizes, rounded by largest remainder (ties: the earlier group) so the
 * shares sum to exactly k. A share never exceeds its group's size because k ≤ Σ sizes.
 */
export function proportionalShares(sizes: ArrayLike<number>, k: number): Uint32Array {
  let total = 0;
  for (let g = 0; g < sizes.length; g++) total += sizes[g]!;
  const shares = new Uint32Array(sizes.length);
  const remainders: number[] = [];
  let given = 0;
  for (let g = 0; g < sizes.length; g++) {
    // Integer arithmetic: k·size stays far below 2^53 for any n a selection holds in memory.
    shares[g] = Math.floor((k * sizes[g]!) / total);
    remainders.push((k * sizes[g]!) % total);
    given += shares[g]!;
  }
  const order = remainders.map((_, g) => g).sort((a, b) => remainders[b]! - remainders[a]! || a - b);
  for (let r = 0; r < k - given; r++) shares[order[r]!]!++;
  return shares;
}
