import type pg from 'pg';

export interface PipelineRow {
  pipelineId: number;
  name: string;
  datasetId: number;
}

/** A pipeline name already taken by another workflow run: its rows are that run's, never to be mixed. */
export class PipelineNameTaken extends Error {
  constructor(readonly name: string) {
    super(`a pipeline named "${name}" already exists from an earlier run: its triggers, models and evaluations stay its own; start this one under another id`);
    this.name = 'PipelineNameTaken';
  }
}

/**
 * Creates the pipeline's row for the workflow run `runId`, or returns the row that run created: a retried
 * registration changes nothing. A row of another run under the same name is refused (PipelineNameTaken).
 */
export async function upsertPipeline(pool: pg.Pool, name: string, runId: string, datasetId: number, spec: unknown): Promise<PipelineRow> {
  const { rows } = await pool.query(
    `INSERT INTO pipelines (name, run_id, dataset_id, spec) VALUES ($1, $2, $3, $4)
     ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, dataset_id = EXCLUDED.dataset_id
       WHERE pipelines.run_id = EXCLUDED.run_id
     RETURNING pipeline_id, name, dataset_id`,
    [name, runId, datasetId, JSON.stringify(spec)],
  );
  if (rows.length === 0) throw new PipelineNameTaken(name);
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

/** The spec the pipeline was registered with, as stored (the parsed spec's JSON). */
export async function storedSpec(pool: pg.Pool, pipelineId: number): Promise<unknown> {
  const { rows } = await pool.query('SELECT spec FROM pipelines WHERE pipeline_id = $1', [pipelineId]);
  return rows[0]?.spec;
}

/** The pipeline spec's end of the stream (`until.key`), if it has one. */
export async function pipelineEndKey(pool: pg.Pool, pipelineId: number): Promise<number | undefined> {
  const { rows } = await pool.query(`SELECT (spec->'until'->>'key')::bigint AS until FROM pipelines WHERE pipeline_id = $1`, [pipelineId]);
  return rows[0]?.until === null || rows[0]?.until === undefined ? undefined : Number(rows[0].until);
}
