import type pg from 'pg';
import { getDataset, registerDataset, type Dataset } from './datasets.js';
import { DataError } from './errors.js';

/** A file to replay: its path in the dataset's root and the timestamp of its first sample. */
export interface ReplayFile {
  path: string;
  minTs: number;
}

/** A dataset's files in the order they were ingested, up to the one holding key `lastKey`: what a replay ingests again. */
export async function filesInIngestOrder(pool: pg.Pool, datasetId: number, lastKey: number): Promise<ReplayFile[]> {
  const { rows } = await pool.query(
    'SELECT path, min_ts FROM files WHERE dataset_id = $1 AND first_key <= $2 AND num_samples > 0 ORDER BY first_key',
    [datasetId, lastKey],
  );
  return rows.map((row) => ({ path: row.path, minTs: Number(row.min_ts) }));
}

/**
 * The replay's dataset: `base`'s root, format, ingest settings and holdout under `name`, so that ingesting the same
 * files in the same order gives the same keys, and the same samples are held out. Registering it again (a retried
 * or resumed replay) returns it with what it has ingested so far.
 */
export async function registerReplayDataset(pool: pg.Pool, baseName: string, name: string): Promise<Dataset> {
  const base = await getDataset(pool, baseName);
  if (!base) throw new DataError(`no dataset named "${baseName}" to replay`);
  return registerDataset(pool, { name, root: base.root, format: base.format, ingest: base.ingest, holdout: base.holdout });
}
