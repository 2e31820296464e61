import type pg from 'pg';
import type { KeyRange } from '../../../policies/batches.js';
import type { SelectionPlan } from '../../../policies/selection/plan.js';
import { inTransaction } from '../../db/transaction.js';
import type { Holdout } from '../holdout.js';
import { registerPipelinePartition } from '../selection.js';
import { presamplerOf } from './presamplers/index.js';
import type { PresamplingContext, WindowStatement } from './presamplers/presampler.js';
import { holdOutForIrreducibleLoss } from './irreducible-holdout.js';
import { recordUses } from './sample-uses.js';
import { SqlParams } from './sql-params.js';
import { windowRange, windowSql } from './window.js';

export interface SelectArgs {
  pipelineId: number;
  triggerId: number;
  datasetId: number;
  /** The trigger's new data (its row in `triggers` must be recorded). */
  trigger: KeyRange;
  /** The first key the pipeline saw: where an allData window starts. */
  pipelineFirstKey: number;
  holdout: Holdout;
  plan: SelectionPlan;
}

export interface SelectedSet {
  /** Samples in the window (held-out ones excluded). */
  numWindow: number;
  numSelected: number;
}

/**
 * Writes trigger `triggerId`'s training set as its plan says, in one transaction: the window, limit, freshness or
 * presampling compile to one INSERT … SELECT into training_samples (after at most two small queries: the window's
 * size or group sizes), the samples' use counts are bumped when the plan tracks them, and the trigger row gets its
 * counts. Rows go in key order, so the loader's key-ordered scans read the heap sequentially. A retry after that
 * transaction committed finds the counts and returns them: the set is written once, so use counts are bumped once.
 */
export async function selectTrainingSet(pool: pg.Pool, args: SelectArgs): Promise<SelectedSet> {
  const { pipelineId, triggerId, plan } = args;
  await registerPipelinePartition(pool, pipelineId);
  return inTransaction(pool, async (client) => {
    const { rows: [row] } = await client.query<{ num_window: number | null; num_selected: number | null }>(
      'SELECT num_window, num_selected FROM triggers WHERE pipeline_id = $1 AND trigger_id = $2 FOR UPDATE',
      [pipelineId, triggerId],
    );
    if (!row) throw new Error(`trigger ${triggerId} of pipeline ${pipelineId} is not recorded`);
    if (row.num_window !== null && row.num_selected !== null) return { numWindow: row.num_window, numSelected: row.num_selected };

    const range = await windowRange(client, { ...args, window: plan.window });
    const presampler = presamplerOf(plan);
    const win = (q: SqlParams) => windowSql(q, { ...args, range, seed: plan.seed, uses: presampler.readsUses === true });
    const run = async <R extends pg.QueryResultRow>(statement: WindowStatement): Promise<R[]> => {
      const q = new SqlParams();
      const text = statement(q, win(q));
      return (await client.query<R>(text, q.values)).rows;
    };
    let size: Promise<number> | undefined;
    const ctx: PresamplingContext = {
      plan,
      query: run,
      size: () => (size ??= run<{ n: string }>((_q, w) => `SELECT count(*) AS n FROM (${w}) w`).then((rows) => Number(rows[0]!.n))),
    };
    const picks = await presampler.picks(ctx);

    await client.query('DELETE FROM training_samples WHERE pipeline_id = $1 AND trigger_id = $2', [pipelineId, triggerId]);
    const q = new SqlParams();
    const pipeline = q.add(pipelineId, 'int');
    const trigger = q.add(triggerId, 'int');
    const insert = `INSERT INTO training_samples (pipeline_id, trigger_id, sample_key, weight)
                    SELECT ${pipeline}, ${trigger}, p.sample_key, 1 FROM (${picks(q, win(q))}) p ORDER BY p.sample_key`;
    let numSelected = (await client.query(insert, q.values)).rowCount ?? 0;
    const numWindow = size ? await size : plan.limit || plan.presampling || plan.freshness ? await ctx.size() : numSelected;
    if (plan.irreducibleHoldout) numSelected -= await holdOutForIrreducibleLoss(client, pipelineId, triggerId, plan.seed, plan.irreducibleHoldout);
    if (plan.tracksUses) await recordUses(client, pipelineId, triggerId);
    await client.query(
      'UPDATE triggers SET num_window = $3, num_selected = $4 WHERE pipeline_id = $1 AND trigger_id = $2',
      [pipelineId, triggerId, numWindow, numSelected],
    );
    return { numWindow, numSelected };
  });
}
