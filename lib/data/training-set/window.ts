import type pg from 'pg';
import type { KeyRange } from '../../../policies/batches.js';
import type { SelectionWindow } from '../../../policies/selection/schema.js';
import { DataError } from '../errors.js';
import { heldOutSql, holdoutParams, type Holdout } from '../holdout.js';
import type { SqlParams } from './sql-params.js';

/** Where a trigger's window lies: its key range, and the first key of each trigger whose new data it holds. */
export interface WindowRange extends KeyRange {
  /** Ascending first keys of the window's triggers (the first is firstKey): trigger groups for triggerBalanced. */
  triggerStarts: number[];
}

/**
 * The window's key range: the trigger's new data, everything since the pipeline's first key, or the new data of
 * the last `triggers` triggers too, read from the trigger rows (facts come from the database, not the workflow).
 */
export async function windowRange(
  db: pg.Pool | pg.PoolClient,
  args: { pipelineId: number; triggerId: number; trigger: KeyRange; pipelineFirstKey: number; window: SelectionWindow },
): Promise<WindowRange> {
  const { pipelineId, triggerId, trigger, window } = args;
  const firstKey = window.kind === 'newData' ? trigger.firstKey : window.kind === 'allData' ? args.pipelineFirstKey : undefined;
  const fromTrigger = window.kind === 'lastTriggers' ? Math.max(0, triggerId - window.triggers) : window.kind === 'newData' ? triggerId : 0;
  const { rows } = await db.query<{ first_key: string }>(
    'SELECT first_key FROM triggers WHERE pipeline_id = $1 AND trigger_id BETWEEN $2 AND $3 ORDER BY trigger_id',
    [pipelineId, fromTrigger, triggerId],
  );
  const starts = rows.map((r) => Number(r.first_key));
  if (starts.at(-1) !== trigger.firstKey) throw new DataError(`trigger ${triggerId} of pipeline ${pipelineId} is not recorded with first key ${trigger.firstKey}`);
  const start = firstKey ?? starts[0]!;
  // Keys before the pipeline's first trigger (allData) belong to the first trigger's group.
  const triggerStarts = [start, ...starts.filter((k) => k > start)];
  return { firstKey: start, lastKey: trigger.lastKey, triggerStarts };
}

/**
 * The window as a CTE body: its samples that are not held out, with columns `sample_key`, `label`, `h` (a seeded
 * uniform 32-bit hash of the key: the order of every random choice, so a retry picks the same samples), `grp`
 * (the trigger group: 1 + the index in triggerStarts) and, with `uses`, `uses` (how many earlier triggers of the
 * pipeline trained on the sample).
 */
export function windowSql(
  q: SqlParams,
  args: { datasetId: number; pipelineId: number; range: WindowRange; holdout: Holdout; seed: number; uses: boolean },
): string {
  const [holdoutSeed, threshold] = holdoutParams(args.holdout);
  const key = 's.sample_key';
  const uses = args.uses
    ? `, coalesce(u.uses, 0) AS uses FROM samples s LEFT JOIN sample_uses u ON u.pipeline_id = ${q.add(args.pipelineId, 'int')} AND u.sample_key = ${key}`
    : ' FROM samples s';
  return `SELECT ${key}, s.label, (hashint8extended(${key}, ${q.add(args.seed, 'bigint')}) & 4294967295) AS h,
            width_bucket(${key}, ${q.add(args.range.triggerStarts, 'bigint[]')}) AS grp${uses}
          WHERE s.dataset_id = ${q.add(args.datasetId, 'int')} AND ${key} BETWEEN ${q.add(args.range.firstKey, 'bigint')} AND ${q.add(args.range.lastKey, 'bigint')}
            AND NOT ${heldOutSql(key, q.add(holdoutSeed), q.add(threshold))}`;
}
