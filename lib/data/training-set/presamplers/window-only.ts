import type { Presampler } from './presampler.js';

/** No presampling: the whole window, or, within a limit, its newest samples or a seeded uniform share of it. */
export const windowOnly: Presampler = {
  async picks({ plan }) {
    const limit = plan.limit;
    if (!limit) return (_q, win) => `SELECT sample_key FROM (${win}) w`;
    const order = limit.keep === 'last' ? 'sample_key DESC' : 'h';
    return (q, win) => `SELECT sample_key FROM (${win}) w ORDER BY ${order} LIMIT ${q.add(limit.samples, 'bigint')}`;
  },
};
