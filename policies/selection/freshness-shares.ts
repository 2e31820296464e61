/**
 * How many unused and used samples a freshness trigger takes: the largest set whose share of unused samples is
 * `unusedRatio`, within `limit`. A window with no used samples yet (the first trigger) or no unused ones gives all
 * it has, up to the limit.
 */
export function freshnessShares(unused: number, used: number, unusedRatio: number, limit = Infinity): { unused: number; used: number } {
  if (unused === 0 || used === 0) return { unused: Math.min(unused, limit), used: Math.min(used, Math.max(0, limit - unused)) };
  const total = Math.min(Math.floor(Math.min(unused / unusedRatio, used / (1 - unusedRatio))), limit);
  const fresh = Math.min(unused, Math.round(total * unusedRatio));
  return { unused: fresh, used: Math.min(used, total - fresh) };
}
