import { freshnessShares } from '../../../../policies/selection/freshness-shares.js';
import type { Presampler } from './presampler.js';
import { groupSizes, pickQuotas } from './group-quotas.js';

/** Unused and used samples of the window in the plan's freshness ratio (policies/selection/freshness-shares.ts). */
export const freshness: Presampler = {
  readsUses: true,
  async picks(ctx) {
    const { groups, sizes } = await groupSizes(ctx, '(uses > 0)::int');
    const sizeOf = (g: number) => sizes[groups.indexOf(g)] ?? 0;
    const shares = freshnessShares(sizeOf(0), sizeOf(1), ctx.plan.freshness!.unusedRatio, ctx.plan.limit?.samples);
    return pickQuotas('(uses > 0)::int', [0, 1], [shares.unused, shares.used]);
  },
};
