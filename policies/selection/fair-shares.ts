/**
 * How many samples each group (a label, or a trigger) gets when a balanced presampler picks `target` of them.
 * Water-filling: every group gets min(its size, s) for the largest share s that keeps the total within target,
 * so a small group gives all it has and the others split what it leaves. `forceColumnBalancing` gives every group
 * the same count instead (the smallest group's size, or target / groups if less); `forceRequiredTargetSize` hands
 * the remainder below target out one sample each to the groups that still have samples, in group order.
 * Groups come in a fixed order (ascending label or trigger), so the shares are deterministic.
 */
export function fairShares(
  sizes: readonly number[],
  target: number,
  options: { forceColumnBalancing?: boolean; forceRequiredTargetSize?: boolean } = {},
): number[] {
  if (!Number.isSafeInteger(target) || target < 0) throw new Error(`target size ${target} is not a count`);
  for (const size of sizes) if (!Number.isSafeInteger(size) || size < 0) throw new Error(`group size ${size} is not a count`);
  const groups = sizes.filter((n) => n > 0).length;
  if (groups === 0) return sizes.map(() => 0);
  if (options.forceColumnBalancing) {
    const each = Math.min(Math.min(...sizes.filter((n) => n > 0)), Math.floor(target / groups));
    return sizes.map((n) => (n > 0 ? each : 0));
  }
  const total = (share: number) => sizes.reduce((sum, n) => sum + Math.min(n, share), 0);
  // Largest share whose total fits the target: total() is non-decreasing in the share.
  let lo = 0;
  let hi = Math.max(...sizes);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (total(mid) <= target) lo = mid;
    else hi = mid - 1;
  }
  const shares = sizes.map((n) => Math.min(n, lo));
  if (options.forceRequiredTargetSize) {
    let left = target - total(lo);
    for (let i = 0; i < shares.length && left > 0; i++) {
      if (sizes[i]! > shares[i]!) {
        shares[i]!++;
        left--;
      }
    }
  }
  return shares;
}
