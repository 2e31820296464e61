import type pg from 'pg';
import type { KeyRange } from '../../policies/batches.js';

export interface TriggerRow extends KeyRange {
  triggerId: number;
  numNew: number;
  minTs: number;
  maxTs: number;
  /** Samples the selection window held (held-out ones excluded); null for triggers selected before it was recorded. */
  numWindow: number | null;
  numSelected: number | null;
  /** Why the trigger policy fired. */
  reason: string | null;
}

/** Records a trigger with the exact count and time span of its new data, read from the samples, and why it fired. */
export async function recordTrigger(
  pool: pg.Pool, pipelineId: number, datasetId: number, triggerId: number, range: KeyRange, reason: string | null,
): Promise<TriggerRow> {
  const { rows } = await pool.query(
    `INSERT INTO triggers (pipeline_id, trigger_id, first_key, last_key, num_new, min_ts, max_ts, reason)
     SELECT $1, $2, $4, $5, count(*), coalesce(min(ts), 0), coalesce(max(ts), 0), $6
       FROM samples WHERE dataset_id = $3 AND sample_key BETWEEN $4 AND $5
     ON CONFLICT (pipeline_id, trigger_id) DO UPDATE
       SET first_key = EXCLUDED.first_key, last_key = EXCLUDED.last_key, num_new = EXCLUDED.num_new,
           min_ts = EXCLUDED.min_ts, max_ts = EXCLUDED.max_ts, reason = EXCLUDED.reason
     RETURNING trigger_id, first_key, last_key, num_new, min_ts, max_ts, num_window, num_selected, reason`,
    [pipelineId, triggerId, datasetId, range.firstKey, range.lastKey, reason],
  );
  return toTriggerRow(rows[0]);
}

export async function listTriggers(pool: pg.Pool, pipelineId: number): Promise<TriggerRow[]> {
  const { rows } = await pool.query(
    `SELECT trigger_id, first_key, last_key, num_new, min_ts, max_ts, num_window, num_selected, reason
       FROM triggers WHERE pipeline_id = $1 ORDER BY trigger_id`,
    [pipelineId],
  );
  return rows.map(toTriggerRow);
}

function toTriggerRow(row: Record<string, number | string | null>): TriggerRow {
  return {
    triggerId: row.trigger_id as number,
    firstKey: row.first_key as number,
    lastKey: row.last_key as number,
    numNew: row.num_new as number,
    minTs: row.min_ts as number,
    maxTs: row.max_ts as number,
    numWindow: row.num_window as number | null,
    numSelected: row.num_selected as number | null,
    reason: row.reason as string | null,
  };
}
