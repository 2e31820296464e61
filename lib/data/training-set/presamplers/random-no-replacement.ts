import type { Presampler } from './presampler.js';
import { targetSize } from './presampler.js';

/**
 * A seeded uniform `ratio` of the window among its least-used samples: no sample is picked a second time before
 * every sample of the window has been picked once (then the cycle starts over, least-used first again).
 */
export const randomNoReplacement: Presampler = {
  readsUses: true,
  async picks(ctx) {
    const target = targetSize(await ctx.size(), ctx.plan.presampling!.ratio, ctx.plan);
    return (q, win) => `SELECT sample_key FROM (${win}) w ORDER BY uses, h LIMIT ${q.add(target, 'bigint')}`;
  },
};
