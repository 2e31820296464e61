import type pg from 'pg';
import type { SelectionPlan } from '../../../../policies/selection/plan.js';
import type { SqlParams } from '../sql-params.js';

/** Builds one statement over the window: `win` is the window's SQL (a subquery body), bound to the same `q`. */
export type WindowStatement = (q: SqlParams, win: string) => string;

/** What a presampler may ask while it plans its picks. */
export interface PresamplingContext {
  plan: SelectionPlan;
  /** Runs an auxiliary query over the window (a count, group sizes) in the selection's transaction. */
  query<R extends pg.QueryResultRow>(statement: WindowStatement): Promise<R[]>;
  /** Samples in the window (counted once, on first use). */
  size(): Promise<number>;
}

/**
 * One way of picking a trigger's training set from its window, compiled to SQL: the returned statement selects the
 * `sample_key`s to train on (each at most once), and runs inside the INSERT … SELECT into training_samples.
 */
export interface Presampler {
  /** Reads the window's `uses` column (sample_uses). */
  readsUses?: boolean;
  picks(ctx: PresamplingContext): Promise<WindowStatement>;
}

/** The target size of a ratio of `size` samples, within the plan's limit: at least one sample of a non-empty window. */
export function targetSize(size: number, ratio: number, plan: SelectionPlan): number {
  const target = size === 0 ? 0 : Math.max(1, Math.floor(size * ratio));
  return Math.min(target, plan.limit?.samples ?? Infinity);
}
