import { stat } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';

/**
 * Files of a dataset that could not be ingested, kept out of it with their reason (table quarantined_files).
 * One bad file must not stop a stream: it is recorded here and ingestion goes on with the next file. The scan
 * for new files skips a quarantined file while its size and mtime are the recorded ones, and tries it again
 * once they change; ingesting it releases it.
 */
export interface QuarantinedFile {
  /** Relative to the dataset root. */
  path: string;
  reason: string;
  sizeBytes: number;
  mtimeS: number;
  quarantinedAt: Date;
}

/** Records (or updates) why `file` of the dataset was rejected, for the version of it that was read. */
export async function quarantineFile(
  db: pg.Pool | pg.PoolClient,
  datasetId: number,
  file: Omit<QuarantinedFile, 'quarantinedAt'>,
): Promise<void> {
  await db.query(
    `INSERT INTO quarantined_files (dataset_id, path, reason, size_bytes, mtime_s) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (dataset_id, path) DO UPDATE SET
       reason = EXCLUDED.reason, size_bytes = EXCLUDED.size_bytes, mtime_s = EXCLUDED.mtime_s, quarantined_at = now()`,
    [datasetId, file.path, file.reason, file.sizeBytes, file.mtimeS],
  );
}

/** Called in the transaction that ingests `relative`. */
export async function releaseFromQuarantine(client: pg.PoolClient, datasetId: number, relative: string): Promise<void> {
  await client.query('DELETE FROM quarantined_files WHERE dataset_id = $1 AND path = $2', [datasetId, relative]);
}

export async function listQuarantined(pool: pg.Pool, datasetId: number): Promise<QuarantinedFile[]> {
  const { rows } = await pool.query<{ path: string; reason: string; size_bytes: number; mtime_s: number; quarantined_at: Date }>(
    'SELECT path, reason, size_bytes, mtime_s, quarantined_at FROM quarantined_files WHERE dataset_id = $1 ORDER BY path',
    [datasetId],
  );
  return rows.map((r) => ({ path: r.path, reason: r.reason, sizeBytes: r.size_bytes, mtimeS: r.mtime_s, quarantinedAt: r.quarantined_at }));
}

/**
 * Of `found` (root-relative paths just seen under the root), those quarantined and unchanged since, which a scan
 * for new files skips. Entries of files no longer found are forgotten: a file that reappears is tried again.
 */
export async function unchangedQuarantined(pool: pg.Pool, datasetId: number, root: string, found: string[]): Promise<Set<string>> {
  await pool.query('DELETE FROM quarantined_files WHERE dataset_id = $1 AND path <> ALL($2::text[])', [datasetId, found]);
  const unchanged = new Set<string>();
  for (const q of await listQuarantined(pool, datasetId)) {
    // Stored as ingestion stores it (files.mtime_s), so an unchanged file compares equal exactly.
    const info = await stat(path.join(root, q.path)).catch(() => undefined);
    if (info && info.size === q.sizeBytes && info.mtimeMs / 1000 === q.mtimeS) unchanged.add(q.path);
  }
  return unchanged;
}
