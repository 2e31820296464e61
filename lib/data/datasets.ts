import { stat } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { DEFAULT_HOLDOUT, parseDatasetConfig, type DatasetConfig, type DatasetFormat, type IngestSettings } from './dataset-config.js';
import type { Holdout } from './holdout.js';
import { DataError } from './errors.js';
import { checkCsvColumns } from './formats/csv-columns.js';

export interface Dataset {
  id: number;
  name: string;
  root: string;
  format: DatasetFormat;
  ingest: IngestSettings;
  /** The samples every pipeline over the dataset holds out for evaluation. */
  holdout: Holdout;
}

export const DEFAULT_HASH_PARTITIONS = 4;
const COLUMNS = 'dataset_id AS id, name, root, format, ingest, holdout';

/**
 * Registers a dataset and creates its samples partition (`samples_d<id>`, hash-partitioned by key
 * into `hashPartitions` leaves) in one transaction. Registering the same name again with the same
 * config returns the existing dataset, with its ingest settings updated from the config; with a
 * different root, format or hashPartitions it is an error. The root must be an existing folder; it is
 * stored absolute (resolved against the current directory). A CSV format's columns are checked against the
 * root's first CSV file, when there is one (checkCsvColumns).
 */
export async function registerDataset(pool: pg.Pool, config: DatasetConfig): Promise<Dataset> {
  const { name, format, hashPartitions = DEFAULT_HASH_PARTITIONS, ingest = {}, holdout = DEFAULT_HOLDOUT } = parseDatasetConfig(config);
  const root = path.resolve(config.root);
  await checkRoot(name, root);
  if (format.kind === 'csv') await checkCsvColumns(name, root, format);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // A concurrent registration of the same name waits here for the first one to commit.
    const inserted = await client.query<Dataset>(
      `INSERT INTO datasets (name, root, format, hash_partitions, ingest, holdout) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
      [name, root, JSON.stringify(format), hashPartitions, JSON.stringify(ingest), JSON.stringify(holdout)],
    );
    const created = inserted.rows[0];
    if (created) {
      const id = created.id;
      await client.query(`CREATE TABLE samples_d${id} PARTITION OF samples FOR VALUES IN (${id}) PARTITION BY HASH (sample_key)`);
      for (let r = 0; r < hashPartitions; r++) {
        await client.query(`CREATE TABLE samples_d${id}_h${r} PARTITION OF samples_d${id} FOR VALUES WITH (MODULUS ${hashPartitions}, REMAINDER ${r})`);
      }
      await client.query('COMMIT');
      return created;
    }
    const existing = await client.query<Dataset & { same: boolean }>(
      `SELECT ${COLUMNS}, root = $2 AND format = $3::jsonb AND hash_partitions = $4 AND holdout = $5::jsonb AS same FROM datasets WHERE name = $1`,
      [name, root, JSON.stringify(format), hashPartitions, JSON.stringify(holdout)],
    );
    const { same, ...dataset } = existing.rows[0]!;
    if (!same) throw new DataError(`dataset "${name}" is already registered with a different config (root, format, hashPartitions or holdout)`);
    await client.query('UPDATE datasets SET ingest = $2 WHERE name = $1', [name, JSON.stringify(ingest)]);
    await client.query('COMMIT');
    return { ...dataset, ingest };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

export async function getDataset(pool: pg.Pool, name: string): Promise<Dataset | undefined> {
  return (await pool.query<Dataset>(`SELECT ${COLUMNS} FROM datasets WHERE name = $1`, [name])).rows[0];
}

export async function getDatasetById(pool: pg.Pool, id: number): Promise<Dataset | undefined> {
  return (await pool.query<Dataset>(`SELECT ${COLUMNS} FROM datasets WHERE dataset_id = $1`, [id])).rows[0];
}

/** Refuses a root that is not an existing folder, naming it: a typo would otherwise only show at the first ingest. */
export async function checkRoot(name: string, root: string): Promise<void> {
  const info = await stat(root).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
    throw new DataError(`dataset "${name}": root ${root} cannot be read: ${e.message}`);
  });
  if (!info) throw new DataError(`dataset "${name}": root folder ${root} does not exist`);
  if (!info.isDirectory()) throw new DataError(`dataset "${name}": root ${root} is not a folder`);
}
