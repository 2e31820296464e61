import type pg from 'pg';
import type { KeyRange } from '../../policies/batches.js';
import type { MetricResult } from '../eval/metrics/index.js';

export interface EvaluationRow extends KeyRange {
  modelId: number;
  modelTrigger: number;
  intervalId: number;
  numSamples: number;
  /** Every metric by name; `accuracy` and `loss` are also columns (null when not measured). */
  metrics: Record<string, MetricResult>;
  accuracy: number | null;
  loss: number | null;
}

const numberOrNull = (value: MetricResult | undefined) => (typeof value === 'number' ? value : null);

export async function upsertEvaluation(
  pool: pg.Pool, pipelineId: number, row: Omit<EvaluationRow, 'modelTrigger' | 'accuracy' | 'loss'>,
): Promise<void> {
  await pool.query(
    `INSERT INTO evaluations (pipeline_id, model_id, interval_id, first_key, last_key, num_samples, accuracy, loss, metrics)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (pipeline_id, model_id, interval_id) DO UPDATE SET
       first_key = EXCLUDED.first_key, last_key = EXCLUDED.last_key, num_samples = EXCLUDED.num_samples,
       accuracy = EXCLUDED.accuracy, loss = EXCLUDED.loss, metrics = EXCLUDED.metrics, created_at = now()`,
    [pipelineId, row.modelId, row.intervalId, row.firstKey, row.lastKey, row.numSamples,
      numberOrNull(row.metrics.accuracy), numberOrNull(row.metrics.loss), JSON.stringify(row.metrics)],
  );
}

/** The evaluation matrix of a pipeline: one row per (model, interval) pair evaluated so far. */
export async function listEvaluations(pool: pg.Pool, pipelineId: number): Promise<EvaluationRow[]> {
  const { rows } = await pool.query(
    `SELECT e.model_id, m.trigger_id AS model_trigger, e.interval_id, e.first_key, e.last_key, e.num_samples,
            e.accuracy, e.loss, e.metrics
       FROM evaluations e JOIN models m USING (model_id)
      WHERE e.pipeline_id = $1 ORDER BY m.trigger_id, e.interval_id`,
    [pipelineId],
  );
  return rows.map((row) => ({
    modelId: row.model_id,
    modelTrigger: row.model_trigger,
    intervalId: row.interval_id,
    firstKey: row.first_key,
    lastKey: row.last_key,
    numSamples: row.num_samples,
    metrics: row.metrics,
    accuracy: row.accuracy,
    loss: row.loss,
  }));
}

/** The accuracy of the model of trigger `modelTrigger` on interval `intervalId`, if evaluated and measured. */
export async function evaluationAccuracy(pool: pg.Pool, pipelineId: number, modelTrigger: number, intervalId: number): Promise<number | undefined> {
  const { rows } = await pool.query(
    `SELECT e.accuracy FROM evaluations e JOIN models m USING (model_id)
      WHERE e.pipeline_id = $1 AND m.trigger_id = $2 AND e.interval_id = $3`,
    [pipelineId, modelTrigger, intervalId],
  );
  return rows[0]?.accuracy ?? undefined;
}

/**
 * Adds an evaluation call's wall time to its row in evaluation_runs (`scope`: "after:<trigger>" or
 * "trailing:<interval>"): the evaluation seconds of the pipeline's cost. A retried call adds its own time.
 */
export async function recordEvaluationTime(pool: pg.Pool, pipelineId: number, scope: string, cells: number, ms: number): Promise<void> {
  await pool.query(
    `INSERT INTO evaluation_runs (pipeline_id, scope, cells, evaluation_ms) VALUES ($1, $2, $3, $4)
     ON CONFLICT (pipeline_id, scope) DO UPDATE SET cells = EXCLUDED.cells, evaluation_ms = evaluation_runs.evaluation_ms + EXCLUDED.evaluation_ms`,
    [pipelineId, scope, cells, Math.round(ms)],
  );
}

/** Evaluation seconds of the pipeline so far, over all its evaluation calls. */
export async function evaluationSeconds(pool: pg.Pool, pipelineId: number): Promise<number> {
  const { rows } = await pool.query<{ ms: string | null }>('SELECT sum(evaluation_ms) AS ms FROM evaluation_runs WHERE pipeline_id = $1', [pipelineId]);
  return Number(rows[0]!.ms ?? 0) / 1000;
}
