import type pg from 'pg';
import type { EvaluatedModels } from '../../policies/evaluation/matrix.js';
import type { EvaluationStrategy, TimeInterval } from '../../policies/evaluation/intervals/index.js';
import type { MetricResult } from '../eval/metrics/index.js';

/** An evaluation in sample time: its intervals, cut once, over one dataset's samples. */
export interface EvaluationPlan {
  planId: number;
  name: string;
  pipelineId: number;
  datasetId: number;
  /** Only the dataset's held-out samples (the pipeline's own dataset), or all of them (a separate evaluation dataset). */
  heldOut: boolean;
  strategy: EvaluationStrategy;
  models: EvaluatedModels;
  intervals: TimeInterval[];
}

/** One cell of a plan: a model on one interval's samples. */
export interface IntervalEvaluationRow {
  modelId: number;
  modelTrigger: number;
  intervalId: number;
  startTs: number;
  endTs: number;
  numSamples: number;
  metrics: Record<string, MetricResult>;
}

const toPlan = (row: Record<string, unknown>): EvaluationPlan => ({
  planId: row.plan_id as number,
  name: row.name as string,
  pipelineId: row.pipeline_id as number,
  datasetId: row.dataset_id as number,
  heldOut: row.held_out as boolean,
  strategy: row.strategy as EvaluationStrategy,
  models: row.models as EvaluatedModels,
  intervals: row.intervals as TimeInterval[],
});

const PLAN_COLUMNS = 'plan_id, name, pipeline_id, dataset_id, held_out, strategy, models, intervals';

/** Stores a plan under its name, or returns the one stored under it before: a retried planning changes nothing. */
export async function createPlan(pool: pg.Pool, plan: Omit<EvaluationPlan, 'planId'>): Promise<EvaluationPlan> {
  const { rows } = await pool.query(
    `WITH inserted AS (
       INSERT INTO evaluation_plans (name, pipeline_id, dataset_id, held_out, strategy, models, intervals)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING RETURNING ${PLAN_COLUMNS})
     SELECT * FROM inserted UNION ALL SELECT ${PLAN_COLUMNS} FROM evaluation_plans WHERE name = $1`,
    [plan.name, plan.pipelineId, plan.datasetId, plan.heldOut, JSON.stringify(plan.strategy), plan.models, JSON.stringify(plan.intervals)],
  );
  return toPlan(rows[0]);
}

export async function getPlan(pool: pg.Pool, planId: number): Promise<EvaluationPlan | undefined> {
  const { rows } = await pool.query(`SELECT ${PLAN_COLUMNS} FROM evaluation_plans WHERE plan_id = $1`, [planId]);
  return rows[0] && toPlan(rows[0]);
}

/** A pipeline's plans, oldest first. */
export async function listPlans(pool: pg.Pool, pipelineId: number): Promise<EvaluationPlan[]> {
  const { rows } = await pool.query(`SELECT ${PLAN_COLUMNS} FROM evaluation_plans WHERE pipeline_id = $1 ORDER BY plan_id`, [pipelineId]);
  return rows.map(toPlan);
}

export async function insertIntervalEvaluation(pool: pg.Pool, planId: number, row: Omit<IntervalEvaluationRow, 'modelTrigger'>): Promise<void> {
  await pool.query(
    `INSERT INTO interval_evaluations (plan_id, model_id, interval_id, start_ts, end_ts, num_samples, metrics)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (plan_id, model_id, interval_id) DO UPDATE SET num_samples = EXCLUDED.num_samples, metrics = EXCLUDED.metrics`,
    [planId, row.modelId, row.intervalId, row.startTs, row.endTs, row.numSamples, JSON.stringify(row.metrics)],
  );
}

export async function listIntervalEvaluations(pool: pg.Pool, planId: number): Promise<IntervalEvaluationRow[]> {
  const { rows } = await pool.query(
    `SELECT e.model_id, m.trigger_id, e.interval_id, e.start_ts, e.end_ts, e.num_samples, e.metrics
       FROM interval_evaluations e JOIN models m USING (model_id)
      WHERE e.plan_id = $1 ORDER BY m.trigger_id, e.interval_id`,
    [planId],
  );
  return rows.map((row) => ({
    modelId: row.model_id, modelTrigger: row.trigger_id, intervalId: row.interval_id,
    startTs: Number(row.start_ts), endTs: Number(row.end_ts), numSamples: row.num_samples, metrics: row.metrics,
  }));
}

/**
 * A dataset's time span, [minTs, maxTs], from its files' recorded timestamps, or, up to `lastKey` (a pipeline's end
 * of the stream), from its samples; null before any sample.
 */
export async function datasetTimeSpan(pool: pg.Pool, datasetId: number, lastKey?: number): Promise<{ minTs: number; maxTs: number } | null> {
  const { rows } = lastKey === undefined
    ? await pool.query('SELECT min(min_ts) AS min_ts, max(max_ts) AS max_ts FROM files WHERE dataset_id = $1 AND num_samples > 0', [datasetId])
    : await pool.query('SELECT min(ts) AS min_ts, max(ts) AS max_ts FROM samples WHERE dataset_id = $1 AND sample_key <= $2', [datasetId, lastKey]);
  return rows[0].min_ts === null ? null : { minTs: Number(rows[0].min_ts), maxTs: Number(rows[0].max_ts) };
}
