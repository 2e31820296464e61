import type pg from 'pg';

export interface PipelineRow {
  pipelineId: number;
  name: string;
  datasetId: number;
}

/** Creates the pipeline's row, or returns the existing one: a retried registration changes nothing. */
export async function upsertPipeline(pool: pg.Pool, name: string, datasetId: number, spec: unknown): Promise<PipelineRow> {
  const { rows } = await pool.query(
    `INSERT INTO pipelines (name, dataset_id, spec) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, dataset_id = EXCLUDED.dataset_id
     RETURNING pipeline_id, name, dataset_id`,
    [name, datasetId, JSON.stringify(spec)],
  );
  return toPipelineRow(rows[0]);
}

export async function getPipelineByName(pool: pg.Pool, name: string): Promise<PipelineRow | undefined> {
  const { rows } = await pool.query('SELECT pipeline_id, name, dataset_id FROM pipelines WHERE name = $1', [name]);
  return rows[0] && toPipelineRow(rows[0]);
}

export async function getPipeline(pool: pg.Pool, pipelineId: number): Promise<PipelineRow | undefined> {
  const { rows } = await pool.query('SELECT pipeline_id, name, dataset_id FROM pipelines WHERE pipeline_id = $1', [pipelineId]);
  return rows[0] && toPipelineRow(rows[0]);
}

function toPipelineRow(row: { pipeline_id: number; name: string; dataset_id: number }): PipelineRow {
  return { pipelineId: row.pipeline_id, name: row.name, datasetId: row.dataset_id };
}
