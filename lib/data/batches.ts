import type pg from 'pg';
import type { BatchDescriptor } from '../../policies/batches.js';

const DESCRIPTOR = `dataset_id AS "datasetId", first_key AS "firstKey", last_key AS "lastKey", num_samples AS count,
  min_ts AS "minTs", max_ts AS "maxTs"`;

/** One descriptor per ingested file with firstKey > afterKey, in key order. */
export async function listBatches(pool: pg.Pool, datasetId: number, afterKey: number, limit: number): Promise<BatchDescriptor[]> {
  const { rows } = await pool.query<BatchDescriptor>(
    `SELECT ${DESCRIPTOR} FROM files WHERE dataset_id = $1 AND first_key > $2 ORDER BY first_key LIMIT $3`,
    [datasetId, afterKey, limit],
  );
  return rows;
}

/**
 * Splits a batch at timestamp boundaries (ascending) in one pass: segment i holds the samples with
 * ts in [b_{i-1}, b_i), empty segments are left out. Keys follow time within each file, so grouping
 * by (file, segment) yields contiguous key ranges; a batch spanning several files whose times
 * interleave gets one segment per file and time interval, still consecutive in key order.
 */
export async function splitBatch(pool: pg.Pool, batch: BatchDescriptor, boundaries: number[]): Promise<BatchDescriptor[]> {
  const sorted = [...boundaries].sort((a, b) => a - b);
  const { rows } = await pool.query<BatchDescriptor>(
    `SELECT $1::int AS "datasetId", min(sample_key) AS "firstKey", max(sample_key) AS "lastKey", count(*)::int AS count,
            min(ts) AS "minTs", max(ts) AS "maxTs"
     FROM samples
     WHERE dataset_id = $1 AND sample_key BETWEEN $2 AND $3
     GROUP BY file_id, width_bucket(ts, $4::bigint[])
     ORDER BY 2`,
    [batch.datasetId, batch.firstKey, batch.lastKey, sorted],
  );
  return rows;
}
