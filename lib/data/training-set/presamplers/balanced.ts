import { fairShares } from '../../../../policies/selection/fair-shares.js';
import type { Presampler } from './presampler.js';
import { targetSize } from './presampler.js';
import { groupSizes, pickQuotas, type GroupColumn } from './group-quotas.js';

/** `ratio` of the window with every group getting its fair share (policies/selection/fair-shares.ts). */
function balancedOver(group: GroupColumn): Presampler {
  return {
    async picks(ctx) {
      const presampling = ctx.plan.presampling;
      if (presampling?.strategy !== 'labelBalanced' && presampling?.strategy !== 'triggerBalanced') {
        throw new Error(`balanced presampling planned with strategy ${presampling?.strategy}`);
      }
      const { groups, sizes } = await groupSizes(ctx, group);
      const target = targetSize(sizes.reduce((a, b) => a + b, 0), presampling.ratio, ctx.plan);
      return pickQuotas(group, groups, fairShares(sizes, target, presampling));
    },
  };
}

/** Balanced over labels. */
export const labelBalanced = balancedOver('label');
/** Balanced over the triggers whose new data the samples were. */
export const triggerBalanced = balancedOver('grp');
