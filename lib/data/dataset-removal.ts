import type pg from 'pg';
import { inTransaction } from '../db/transaction.js';
import { DataError } from './errors.js';
import { trainingSamplesTable } from './selection.js';

export interface RemovedDataset {
  name: string;
  id: number;
  files: number;
  samples: number;
  quarantined: number;
  /** Pipelines whose rows went with it (only with force). */
  pipelines: string[];
}

/**
 * Removes a dataset's rows in one transaction: its samples partition, files and quarantine rows, then the
 * dataset. The dataset's files on disk are not touched. While pipelines reference it, it refuses, naming them;
 * `force` removes those pipelines' rows too (triggers, training sets, models, evaluations, policy evaluations),
 * but not their running workflows or the model files in the store: stop those first (`tide stop`).
 */
export async function removeDataset(pool: pg.Pool, name: string, opts: { force?: boolean } = {}): Promise<RemovedDataset> {
  return inTransaction(pool, async (client) => {
    // The row lock waits for an ingest in progress and keeps new ones out until the dataset is gone.
    const { rows: [dataset] } = await client.query<{ id: number; files: number; samples: string; quarantined: number }>(
      `SELECT d.dataset_id AS id,
              (SELECT count(*) FROM files f WHERE f.dataset_id = d.dataset_id)::int AS files,
              (SELECT coalesce(sum(f.num_samples), 0) FROM files f WHERE f.dataset_id = d.dataset_id)::bigint AS samples,
              (SELECT count(*) FROM quarantined_files q WHERE q.dataset_id = d.dataset_id)::int AS quarantined
         FROM datasets d WHERE d.name = $1 FOR UPDATE`,
      [name],
    );
    if (!dataset) throw new DataError(`no dataset named "${name}" (see \`tide dataset list\`)`);
    const { rows: pipelines } = await client.query<{ id: number; name: string }>(
      'SELECT pipeline_id AS id, name FROM pipelines WHERE dataset_id = $1 ORDER BY pipeline_id FOR UPDATE',
      [dataset.id],
    );
    if (pipelines.length > 0 && !opts.force) {
      throw new DataError(
        `dataset "${name}" is used by pipeline(s) ${pipelines.map((p) => `"${p.name}"`).join(', ')}; ` +
          'remove it with --force to delete their rows too (their running workflows are not stopped: `tide stop` them first)',
      );
    }
    if (pipelines.length > 0) await removePipelineRows(client, pipelines.map((p) => p.id));
    // Other pipelines' evaluations on it as a separate evaluation dataset go with its samples.
    await client.query('DELETE FROM evaluation_plans WHERE dataset_id = $1', [dataset.id]);
    await client.query(`DROP TABLE IF EXISTS samples_d${dataset.id}`);
    await client.query('DELETE FROM quarantined_files WHERE dataset_id = $1', [dataset.id]);
    await client.query('DELETE FROM files WHERE dataset_id = $1', [dataset.id]);
    await client.query('DELETE FROM datasets WHERE dataset_id = $1', [dataset.id]);
    return {
      name,
      id: dataset.id,
      files: dataset.files,
      samples: Number(dataset.samples),
      quarantined: dataset.quarantined,
      pipelines: pipelines.map((p) => p.name),
    };
  });
}

/** Deletes everything stored for the pipelines, children before parents (foreign keys). */
async function removePipelineRows(client: pg.PoolClient, ids: number[]): Promise<void> {
  await client.query('DELETE FROM policy_evaluations WHERE pipeline_id = ANY($1)', [ids]);
  await client.query('DELETE FROM sample_uses WHERE pipeline_id = ANY($1)', [ids]);
  await client.query('DELETE FROM downsampled_samples WHERE pipeline_id = ANY($1)', [ids]);
  await client.query('DELETE FROM evaluation_runs WHERE pipeline_id = ANY($1)', [ids]);
  await client.query('DELETE FROM evaluation_plans WHERE pipeline_id = ANY($1)', [ids]);
  await client.query(
    'DELETE FROM evaluations WHERE pipeline_id = ANY($1) OR model_id IN (SELECT model_id FROM models WHERE pipeline_id = ANY($1))',
    [ids],
  );
  // One statement: a model's parent is checked once the whole statement has run.
  await client.query('DELETE FROM models WHERE pipeline_id = ANY($1)', [ids]);
  for (const id of ids) await client.query(`DROP TABLE IF EXISTS ${trainingSamplesTable(id)}`);
  await client.query('DELETE FROM triggers WHERE pipeline_id = ANY($1)', [ids]);
  await client.query('DELETE FROM pipelines WHERE pipeline_id = ANY($1)', [ids]);
}
