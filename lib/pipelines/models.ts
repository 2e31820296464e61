import type pg from 'pg';

export interface ModelRow {
  modelId: number;
  triggerId: number;
  parentModelId: number | null;
  architecture: unknown;
  onnxPath: string;
  statePath: string;
  sha256: string;
  /** Samples the training steps trained on (epochs count a sample again; after downsampling). */
  numSamples: number;
  trainingMs: number;
  /** Samples that went through scoring forward passes of model-based downsampling (0 without). */
  numScored: number;
  /** The part of trainingMs spent scoring. */
  scoringMs: number;
  finalLoss: number | null;
  /** Why the model is suspect though it trained (e.g. its loss diverged: lib/train/divergence.ts); null when nothing is. */
  warning: string | null;
  /** When `tide gc` deleted the model's files; null while they are on disk. */
  deletedAt: Date | null;
}

export type NewModel = Omit<ModelRow, 'modelId' | 'warning' | 'deletedAt' | 'numScored' | 'scoringMs'> & {
  warning?: string | null; numScored?: number; scoringMs?: number;
};

/** Records a model; a retried store of the same (pipeline, trigger) updates the one row. */
export async function upsertModel(pool: pg.Pool, pipelineId: number, model: NewModel): Promise<number> {
  const { rows } = await pool.query(
    `INSERT INTO models (pipeline_id, trigger_id, parent_model_id, architecture, onnx_path, state_path, sha256,
                         num_samples, training_ms, final_loss, warning, num_scored, scoring_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (pipeline_id, trigger_id) DO UPDATE SET
       parent_model_id = EXCLUDED.parent_model_id, architecture = EXCLUDED.architecture,
       onnx_path = EXCLUDED.onnx_path, state_path = EXCLUDED.state_path, sha256 = EXCLUDED.sha256,
       num_samples = EXCLUDED.num_samples, training_ms = EXCLUDED.training_ms, final_loss = EXCLUDED.final_loss,
       warning = EXCLUDED.warning, num_scored = EXCLUDED.num_scored, scoring_ms = EXCLUDED.scoring_ms, deleted_at = NULL
     RETURNING model_id`,
    [
      pipelineId, model.triggerId, model.parentModelId, JSON.stringify(model.architecture), model.onnxPath,
      model.statePath, model.sha256, model.numSamples, Math.round(model.trainingMs), model.finalLoss, model.warning ?? null,
      model.numScored ?? 0, Math.round(model.scoringMs ?? 0),
    ],
  );
  return rows[0].model_id;
}

const COLUMNS = `model_id, trigger_id, parent_model_id, architecture, onnx_path, state_path, sha256, num_samples,
                 training_ms, num_scored, scoring_ms, final_loss, warning, deleted_at`;

export async function getModel(pool: pg.Pool, modelId: number): Promise<ModelRow | undefined> {
  const { rows } = await pool.query(`SELECT ${COLUMNS} FROM models WHERE model_id = $1`, [modelId]);
  return rows[0] && toModelRow(rows[0]);
}

export async function listModels(pool: pg.Pool, pipelineId: number): Promise<ModelRow[]> {
  const { rows } = await pool.query(`SELECT ${COLUMNS} FROM models WHERE pipeline_id = $1 ORDER BY trigger_id`, [pipelineId]);
  return rows.map(toModelRow);
}

/** Models of every pipeline, with their pipeline: what retention chooses among. */
export async function listAllModels(pool: pg.Pool): Promise<(ModelRow & { pipelineId: number })[]> {
  const { rows } = await pool.query(`SELECT pipeline_id, ${COLUMNS} FROM models ORDER BY pipeline_id, trigger_id`);
  return rows.map((row) => ({ ...toModelRow(row), pipelineId: row.pipeline_id as number }));
}

/** Records that the files of these models were deleted; a model already marked keeps its first date. */
export async function markModelsDeleted(pool: pg.Pool, modelIds: number[]): Promise<void> {
  await pool.query('UPDATE models SET deleted_at = now() WHERE model_id = ANY($1) AND deleted_at IS NULL', [modelIds]);
}

function toModelRow(row: Record<string, unknown>): ModelRow {
  return {
    modelId: row.model_id as number,
    triggerId: row.trigger_id as number,
    parentModelId: row.parent_model_id as number | null,
    architecture: row.architecture,
    onnxPath: row.onnx_path as string,
    statePath: row.state_path as string,
    sha256: row.sha256 as string,
    numSamples: row.num_samples as number,
    trainingMs: row.training_ms as number,
    numScored: Number(row.num_scored),
    scoringMs: row.scoring_ms as number,
    finalLoss: row.final_loss as number | null,
    warning: row.warning as string | null,
    deletedAt: row.deleted_at as Date | null,
  };
}
