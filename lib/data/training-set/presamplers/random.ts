import type { Presampler } from './presampler.js';
import { targetSize } from './presampler.js';

/** A seeded uniform `ratio` of the window: the samples with the smallest key hashes. */
export const random: Presampler = {
  async picks(ctx) {
    const target = targetSize(await ctx.size(), ctx.plan.presampling!.ratio, ctx.plan);
    return (q, win) => `SELECT sample_key FROM (${win}) w ORDER BY h LIMIT ${q.add(target, 'bigint')}`;
  },
};
