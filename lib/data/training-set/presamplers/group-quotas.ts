import type { PresamplingContext, WindowStatement } from './presampler.js';

/** An integer expression over the window's columns that names a sample's group. */
export type GroupColumn = 'label' | 'grp' | '(uses > 0)::int';

/** The window's group sizes, in ascending group order. */
export async function groupSizes(ctx: PresamplingContext, group: GroupColumn): Promise<{ groups: number[]; sizes: number[] }> {
  const rows = await ctx.query<{ g: number; n: string }>((_q, win) => `SELECT ${group} AS g, count(*) AS n FROM (${win}) w GROUP BY 1 ORDER BY 1`);
  return { groups: rows.map((r) => r.g), sizes: rows.map((r) => Number(r.n)) };
}

/** Picks quota[i] samples of group groups[i], each group's smallest key hashes (a seeded uniform choice within it). */
export function pickQuotas(group: GroupColumn, groups: number[], quotas: number[]): WindowStatement {
  return (q, win) => `SELECT w.sample_key
    FROM (SELECT sample_key, ${group} AS g, row_number() OVER (PARTITION BY ${group} ORDER BY h) AS rank FROM (${win}) w0) w
    JOIN unnest(${q.add(groups, 'int[]')}, ${q.add(quotas, 'bigint[]')}) AS quota(g, n) ON quota.g = w.g
    WHERE w.rank <= quota.n`;
}
