import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { BatchDescriptor } from '../../policies/batches.js';
import { encodeBinaryCopy } from '../db/copy-binary.js';
import type { Dataset } from './datasets.js';
import { DataError, IngestError } from './errors.js';
import { isSampleFile, scanFile } from './formats/index.js';
import { resolveInRoot } from './paths.js';

export type IngestOutcome =
  | { status: 'ingested'; path: string; batch: BatchDescriptor }
  | { status: 'duplicate'; path: string }
  | { status: 'rejected'; path: string; error: IngestError };

/**
 * Ingests one file (absolute, or relative to the dataset root) in one transaction: its samples get
 * the next dense keys of the dataset, in timestamp order (stable). Outcome paths are relative to the
 * root. A corrupt file is rejected whole; a path outside the root or a missing file throws DataError.
 */
export async function ingestFile(pool: pg.Pool, dataset: Dataset, file: string): Promise<IngestOutcome> {
  const { absolute, relative } = await resolveInRoot(dataset.root, file);
  // Cheap early exit before reading the file; the check under the dataset lock below is the real one.
  if (await isIngested(pool, dataset.id, relative)) return { status: 'duplicate', path: relative };
  const info = await stat(absolute);
  if (!info.isFile()) throw new DataError(`${relative}: not a regular file`);

  let samples;
  try {
    samples = await scanFile(dataset.format, absolute, relative, info.mtimeMs / 1000);
  } catch (e) {
    if (e instanceof IngestError) return { status: 'rejected', path: relative, error: e };
    throw e;
  }
  const { count, labels, timestamps } = samples;
  const order = timeOrder(timestamps);

  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    // Locking the dataset row serializes ingestion per dataset, which keeps keys dense.
    const locked = await client.query<{ next_key: number }>('SELECT next_key FROM datasets WHERE dataset_id = $1 FOR UPDATE', [dataset.id]);
    if (!locked.rows[0]) throw new DataError(`dataset ${dataset.id} (${dataset.name}) does not exist`);
    if (await isIngested(client, dataset.id, relative)) {
      await client.query('ROLLBACK');
      return { status: 'duplicate', path: relative };
    }
    const firstKey = locked.rows[0].next_key;
    const batch: BatchDescriptor = {
      datasetId: dataset.id,
      firstKey,
      lastKey: firstKey + count - 1,
      count,
      minTs: timestamps[order[0]!]!,
      maxTs: timestamps[order[count - 1]!]!,
    };
    const { rows } = await client.query<{ file_id: number }>(
      `INSERT INTO files (dataset_id, path, size_bytes, mtime_s, num_samples, first_key, last_key, min_ts, max_ts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING file_id`,
      [dataset.id, relative, info.size, info.mtimeMs / 1000, count, batch.firstKey, batch.lastKey, batch.minTs, batch.maxTs],
    );
    const fileId = rows[0]!.file_id;
    const encoded = encodeBinaryCopy(
      [
        { type: 'int4', value: () => dataset.id },
        { type: 'int8', value: (i) => firstKey + i },
        { type: 'int8', value: () => fileId },
        { type: 'int4', value: (i) => order[i]! },
        { type: 'int4', value: (i) => labels[order[i]!]! },
        { type: 'int8', value: (i) => timestamps[order[i]!]! },
      ],
      count,
    );
    await pipeline(
      Readable.from(encoded),
      client.query(copyFrom(`COPY samples_d${dataset.id} (dataset_id, sample_key, file_id, index_in_file, label, ts) FROM STDIN (FORMAT binary)`)),
    );
    await client.query('UPDATE datasets SET next_key = $2 WHERE dataset_id = $1', [dataset.id, batch.lastKey + 1]);
    await client.query('COMMIT');
    return { status: 'ingested', path: relative, batch };
  } catch (e) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw e;
  } finally {
    // A connection that could not roll back (e.g. after an aborted COPY) is discarded, not reused.
    client.release(broken);
  }
}

/**
 * Ingests files one after another in the given order, which defines their keys. `signal` stops
 * before the next file. Rejected files are reported, not thrown; DataErrors (path outside the root,
 * missing file) are thrown.
 */
export async function ingestFiles(
  pool: pg.Pool,
  dataset: Dataset,
  paths: string[],
  opts: { onOutcome?: (o: IngestOutcome) => void; signal?: AbortSignal } = {},
): Promise<IngestOutcome[]> {
  const outcomes: IngestOutcome[] = [];
  for (const file of paths) {
    if (opts.signal?.aborted) break;
    const outcome = await ingestFile(pool, dataset, file);
    opts.onOutcome?.(outcome);
    outcomes.push(outcome);
  }
  return outcomes;
}

/**
 * Regular sample files (see isSampleFile) under the dataset root (recursive) not yet ingested, as
 * root-relative paths sorted by code unit. Skips dotfiles and dot-directories, names ending in .tmp or
 * .partial (files still being written), and symlinks.
 */
export async function findNewFiles(pool: pg.Pool, dataset: Dataset): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && prefix === '') throw new DataError(`dataset root ${dataset.root} does not exist`);
      throw e;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.') || /\.(tmp|partial)$/.test(entry.name)) continue;
      if (entry.isDirectory()) await walk(path.join(dir, entry.name), `${prefix}${entry.name}/`);
      else if (entry.isFile() && isSampleFile(dataset.format, entry.name)) found.push(prefix + entry.name);
    }
  };
  await walk(dataset.root, '');
  const { rows } = await pool.query<{ path: string }>(
    `SELECT p AS path FROM unnest($2::text[]) AS p
     WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.dataset_id = $1 AND f.path = p)`,
    [dataset.id, found],
  );
  return rows.map((r) => r.path).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

async function isIngested(db: pg.Pool | pg.PoolClient, datasetId: number, relative: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM files WHERE dataset_id = $1 AND path = $2', [datasetId, relative]);
  return rowCount !== 0;
}

/** Record indices sorted by timestamp, ties in file order. */
function timeOrder(timestamps: Float64Array): Uint32Array {
  const n = timestamps.length;
  const order = new Uint32Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    order[i] = i;
    if (i > 0 && timestamps[i]! < timestamps[i - 1]!) sorted = false;
  }
  return sorted ? order : order.sort((a, b) => timestamps[a]! - timestamps[b]! || a - b);
}
