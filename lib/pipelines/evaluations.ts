import type pg from 'pg';
import type { KeyRange } from '../../policies/batches.js';

export interface EvaluationRow extends KeyRange {
  modelId: number;
  modelTrigger: number;
  intervalId: number;
  numSamples: number;
  accuracy: number;
  loss: number;
}

export async function upsertEvaluation(pool: pg.Pool, pipelineId: number, row: Omit<EvaluationRow, 'modelTrigger'>): Promise<void> {
  await pool.query(
    `INSERT INTO evaluations (pipeline_id, model_id, interval_id, first_key, last_key, num_samples, accuracy, loss)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (pipeline_id, model_id, interval_id) DO UPDATE SET
       first_key = EXCLUDED.first_key, last_key = EXCLUDED.last_key, num_samples = EXCLUDED.num_samples,
       accuracy = EXCLUDED.accuracy, loss = EXCLUDED.loss, created_at = now()`,
    [pipelineId, row.modelId, row.intervalId, row.firstKey, row.lastKey, row.numSamples, row.accuracy, row.loss],
  );
}

/** The evaluation matrix of a pipeline: one row per (model, interval) pair evaluated so far. */
export async function listEvaluations(pool: pg.Pool, pipelineId: number): Promise<EvaluationRow[]> {
  const { rows } = await pool.query(
    `SELECT e.model_id, m.trigger_id AS model_trigger, e.interval_id, e.first_key, e.last_key, e.num_samples,
            e.accuracy, e.loss
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
    accuracy: row.accuracy,
    loss: row.loss,
  }));
}
