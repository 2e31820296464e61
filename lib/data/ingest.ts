import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { BatchDescriptor } from '../../policies/batches.js';
import { encodeBinaryCopy } from '../db/copy-binary.js';
import type { Dataset } from './datasets.js';
import { DataError, IngestError } from './errors.js';
import { scanFile, type FileSamples } from './formats/index.js';
import { beginBulkLoad, finishBulkLoad } from './bulk-load.js';
import { resolveInRoot } from './paths.js';
import { sampleFilesUnder } from './sample-files.js';
import { quarantineFile, releaseFromQuarantine, unchangedQuarantined } from './quarantine.js';
import type { SkippedRows } from './skipped-rows.js';

/**
 * What ingestion did with one file. A rejected file (empty, corrupt, undecodable) is quarantined (quarantine.ts)
 * and uses no keys; a dataset with `ingest.strict` throws its IngestError instead. An ingested file's samples
 * older than the dataset's latest timestamp before it are `backdated`; its bad rows left out under
 * `ingest.badRows: 'skip'` are `skipped` (also recorded in `files`).
 */
export type IngestOutcome =
  | { status: 'ingested'; path: string; batch: BatchDescriptor; backdated?: Backdated; skipped?: SkippedRows }
  | { status: 'duplicate'; path: string }
  | { status: 'rejected'; path: string; error: IngestError };

/**
 * Samples of a file dated before the latest timestamp the dataset held when it came. Ingestion order is the
 * stream: they still get keys after everything ingested earlier, so a pipeline sees them as new data, and a
 * window over timestamps may then hold samples of an earlier trigger's time.
 */
export interface Backdated {
  count: number;
  /** Their timestamps' range. */
  minTs: number;
  maxTs: number;
  /** The dataset's latest timestamp before the file. */
  latestTs: number;
}

/** A file read and validated, ready to be committed. */
interface ScannedFile {
  relative: string;
  sizeBytes: number;
  mtimeS: number;
  samples: FileSamples;
  /** Record indices in key order (timestamp order, stable). */
  order: Uint32Array;
}

/** A file whose content was refused, with the version (size, mtime) that was read. */
interface RejectedFile {
  relative: string;
  sizeBytes: number;
  mtimeS: number;
  error: IngestError;
}

type Scan = { scanned: ScannedFile } | { rejected: RejectedFile } | { duplicate: string };

/**
 * Ingests one file (absolute, or relative to the dataset root) in one transaction: its samples get
 * the next dense keys of the dataset, in timestamp order (stable). Outcome paths are relative to the
 * root. A corrupt file is rejected whole (see IngestOutcome); a path outside the root or a missing file
 * throws DataError.
 */
export async function ingestFile(pool: pg.Pool, dataset: Dataset, file: string): Promise<IngestOutcome> {
  return (await ingestFiles(pool, dataset, [file]))[0]!;
}

/**
 * Reads and validates a file without touching the database beyond a duplicate check: the part of
 * ingestion that can run for several files at once. Errors other than a refused content name the file.
 */
async function scanForIngest(pool: pg.Pool, dataset: Dataset, file: string): Promise<Scan> {
  const { absolute, relative } = await resolveInRoot(dataset.root, file);
  // Cheap early exit before reading the file; the check under the dataset lock in storeFile is the real one.
  if (await isIngested(pool, dataset.id, relative)) return { duplicate: relative };
  const info = await stat(absolute);
  if (!info.isFile()) throw new DataError(`${relative}: not a regular file`);
  // The version read: a file that changes while it is read is quarantined as its old version and so tried again.
  const sizeBytes = info.size;
  const mtimeS = info.mtimeMs / 1000;
  try {
    const samples = await scanFile(dataset.format, absolute, relative, mtimeS, dataset.ingest.badRows);
    return { scanned: { relative, sizeBytes, mtimeS, samples, order: timeOrder(samples.timestamps) } };
  } catch (e) {
    if (e instanceof IngestError) return { rejected: { relative, sizeBytes, mtimeS, error: e } };
    if (e instanceof DataError) throw e;
    throw new DataError(`${relative}: cannot be read: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Runs `work` in one transaction holding the dataset row lock, which serializes ingestion per dataset and so
 * keeps keys dense.
 */
async function underIngestLock<T>(pool: pg.Pool, dataset: Dataset, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const locked = await client.query('SELECT 1 FROM datasets WHERE dataset_id = $1 FOR UPDATE', [dataset.id]);
    if (locked.rowCount === 0) throw new DataError(`dataset ${dataset.id} (${dataset.name}) does not exist`);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw e;
  } finally {
    // A connection that could not roll back (e.g. after an aborted COPY) is discarded, not reused.
    client.release(broken);
  }
}

/**
 * Gives the scanned file the dataset's next keys and stores its samples; the caller holds the ingest lock
 * (underIngestLock) and commits. Releases the file from quarantine, where an earlier version of it may be.
 */
async function storeFile(client: pg.PoolClient, dataset: Dataset, scanned: ScannedFile): Promise<IngestOutcome> {
  const { relative, order } = scanned;
  const { count, labels, timestamps, indexes, skipped } = scanned.samples;
  if (await isIngested(client, dataset.id, relative)) return { status: 'duplicate', path: relative };
  const { rows: [next] } = await client.query<{ next_key: number; latest_ts: string | null }>(
    'SELECT next_key, (SELECT max(max_ts) FROM files WHERE dataset_id = $1) AS latest_ts FROM datasets WHERE dataset_id = $1',
    [dataset.id],
  );
  const firstKey = next!.next_key;
  const batch: BatchDescriptor = {
    datasetId: dataset.id,
    firstKey,
    lastKey: firstKey + count - 1,
    count,
    minTs: timestamps[order[0]!]!,
    maxTs: timestamps[order[count - 1]!]!,
  };
  const { rows } = await client.query<{ file_id: number }>(
    `INSERT INTO files (dataset_id, path, size_bytes, mtime_s, num_samples, first_key, last_key, min_ts, max_ts, skipped_rows, skipped_examples)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING file_id`,
    [
      dataset.id, relative, scanned.sizeBytes, scanned.mtimeS, count, batch.firstKey, batch.lastKey, batch.minTs, batch.maxTs,
      skipped?.count ?? 0, skipped ? JSON.stringify(skipped.examples) : null,
    ],
  );
  const fileId = rows[0]!.file_id;
  const encoded = encodeBinaryCopy(
    [
      { type: 'int4', constant: dataset.id },
      { type: 'int8', sequenceFrom: firstKey },
      { type: 'int8', constant: fileId },
      { type: 'int4', values: indexes ? Int32Array.from(order, (i) => indexes[i]!) : new Int32Array(order.buffer, order.byteOffset, count) },
      { type: 'int4', values: labels.map((_, i) => labels[order[i]!]!) },
      { type: 'int8', values: timestamps.map((_, i) => timestamps[order[i]!]!) },
    ],
    count,
  );
  await pipeline(
    Readable.from(encoded),
    client.query(copyFrom(`COPY samples_d${dataset.id} (dataset_id, sample_key, file_id, index_in_file, label, ts) FROM STDIN (FORMAT binary)`)),
  );
  await client.query('UPDATE datasets SET next_key = $2 WHERE dataset_id = $1', [dataset.id, batch.lastKey + 1]);
  await releaseFromQuarantine(client, dataset.id, relative);
  const backdated = next!.latest_ts === null ? undefined : backdatedSamples(timestamps, order, Number(next!.latest_ts));
  return { status: 'ingested', path: relative, batch, ...(backdated && { backdated }), ...(skipped && { skipped }) };
}

/** The samples dated before latestTs: a prefix of the file's samples in key (timestamp) order. */
function backdatedSamples(timestamps: Float64Array, order: Uint32Array, latestTs: number): Backdated | undefined {
  let count = 0;
  while (count < order.length && timestamps[order[count]!]! < latestTs) count++;
  if (count === 0) return undefined;
  return { count, minTs: timestamps[order[0]!]!, maxTs: timestamps[order[count - 1]!]!, latestTs };
}

export interface IngestFilesOptions {
  /** Files read and validated at once, ahead of the commits (default 1: one after another). */
  parallel?: number;
  /** Load rows first and build the samples index afterwards (see bulk-load.ts). */
  bulk?: boolean;
  /** Each outcome, in path order; with `ingest.strict`, all of them once the whole call has committed. */
  onOutcome?: (o: IngestOutcome) => void;
  /**
   * Receives a file's DataError or I/O error (path outside the root, file gone, unreadable) and goes on with the
   * next file, which is not ingested and so is tried again by the next ingest; without it the error is thrown
   * and later files are not ingested. Not called with `ingest.strict`: there any error fails the call.
   */
  onError?: (path: string, e: unknown) => void;
  signal?: AbortSignal;
}

/**
 * Ingests files in the given order, which defines their keys: up to `parallel` files are scanned at
 * once while commits stay in order, one transaction per file, so keys come out exactly as with
 * sequential ingestion. `signal` stops before the next commit. Rejected files are quarantined and
 * reported, not thrown, and use no keys. A dataset with `ingest.strict` ingests all or nothing: one
 * transaction for the whole call, which the first rejected or unreadable file fails, throwing its error.
 */
export async function ingestFiles(pool: pg.Pool, dataset: Dataset, paths: string[], opts: IngestFilesOptions = {}): Promise<IngestOutcome[]> {
  const parallel = opts.parallel ?? 1;
  if (!Number.isSafeInteger(parallel) || parallel < 1) throw new DataError(`parallel must be an integer >= 1, got ${parallel}`);
  await finishBulkLoad(pool, dataset);
  if (opts.bulk) await beginBulkLoad(pool, dataset);
  try {
    if (!dataset.ingest.strict) {
      return await ingestInOrder(pool, dataset, paths, opts, async (scan) => {
        if ('duplicate' in scan) return { status: 'duplicate', path: scan.duplicate };
        if ('rejected' in scan) return quarantine(pool, dataset, scan.rejected);
        return underIngestLock(pool, dataset, (client) => storeFile(client, dataset, scan.scanned));
      });
    }
    const outcomes = await underIngestLock(pool, dataset, (client) =>
      ingestInOrder(pool, dataset, paths, { parallel, signal: opts.signal }, async (scan) => {
        if ('duplicate' in scan) return { status: 'duplicate', path: scan.duplicate };
        if ('rejected' in scan) throw scan.rejected.error;
        return storeFile(client, dataset, scan.scanned);
      }),
    );
    for (const outcome of outcomes) opts.onOutcome?.(outcome);
    return outcomes;
  } finally {
    if (opts.bulk) await finishBulkLoad(pool, dataset);
  }
}

/** Scans up to `parallel` files ahead and settles each scan in path order. */
async function ingestInOrder(
  pool: pg.Pool,
  dataset: Dataset,
  paths: string[],
  opts: IngestFilesOptions,
  settle: (scan: Scan) => Promise<IngestOutcome>,
): Promise<IngestOutcome[]> {
  const parallel = opts.parallel ?? 1;
  const outcomes: IngestOutcome[] = [];
  const scans: Promise<Scan>[] = [];
  let started = 0;
  for (const file of paths) {
    if (opts.signal?.aborted) break;
    while (started < paths.length && scans.length < parallel) {
      const scan = scanForIngest(pool, dataset, paths[started++]!);
      // Awaited in order below; a scan left behind by an abort or an earlier error must not go unhandled.
      scan.catch(() => {});
      scans.push(scan);
    }
    let outcome: IngestOutcome;
    try {
      outcome = await settle(await scans.shift()!);
    } catch (e) {
      if (!opts.onError) throw e;
      opts.onError(file, e);
      continue;
    }
    opts.onOutcome?.(outcome);
    outcomes.push(outcome);
  }
  return outcomes;
}

async function quarantine(pool: pg.Pool, dataset: Dataset, rejected: RejectedFile): Promise<IngestOutcome> {
  const { relative, sizeBytes, mtimeS, error } = rejected;
  await quarantineFile(pool, dataset.id, { path: relative, reason: error.detail, sizeBytes, mtimeS });
  return { status: 'rejected', path: relative, error };
}

/**
 * Sample files under the dataset root (see sampleFilesUnder) neither ingested nor quarantined unchanged
 * (quarantine.ts), as root-relative paths sorted by code unit.
 */
export async function findNewFiles(pool: pg.Pool, dataset: Dataset): Promise<string[]> {
  const found = await sampleFilesUnder(dataset.root, dataset.format);
  const quarantined = await unchangedQuarantined(pool, dataset.id, dataset.root, found);
  const { rows } = await pool.query<{ path: string }>(
    `SELECT p AS path FROM unnest($2::text[]) AS p
     WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.dataset_id = $1 AND f.path = p)`,
    [dataset.id, found.filter((file) => !quarantined.has(file))],
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
