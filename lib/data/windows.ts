/**
 * Sample windows of measurements (policies/triggers/protocol.ts `SampleWindow`) resolved against a dataset in
 * PostgreSQL: the keys a window holds, optionally a seeded uniform subsample of them, and the sample-time sums of
 * a key range. The samples themselves are read with loader.ts `keyedBatches`.
 */
import type pg from 'pg';
import type { KeyRange } from '../../policies/batches.js';
import type { SampleWindow } from '../../policies/triggers/protocol.js';
import { copyOut } from '../db/copy-out.js';
import { DataError } from './errors.js';

/** A seeded uniform subsample of at most `size` keys. */
export interface Subsample {
  size: number;
  seed: number;
}

/**
 * The keys of `window` in dataset `datasetId`, ascending: keys in [firstKey, lastKey]; with `lastSeconds`, those
 * whose `ts` is at most that many seconds before the newest `ts` in the range; with `lastSamples`, the last that
 * many of them (after `lastSeconds`, when both are given). With `subsample`, the first `size` of them ordered by a
 * seeded hash of the key: uniform, and the same keys for the same seed.
 */
export async function windowKeys(pool: pg.Pool, datasetId: number, window: SampleWindow, subsample?: Subsample): Promise<Float64Array> {
  const { firstKey, lastKey } = checkWindow(window);
  const dataset = sqlInt('datasetId', datasetId);
  // Keys are dense below the dataset's next key, which bounds the window's size before it is read.
  const { rows } = await pool.query<{ next_key: string }>('SELECT next_key FROM datasets WHERE dataset_id = $1', [dataset]);
  if (!rows[0]) throw new DataError(`dataset ${datasetId} does not exist`);
  let capacity = Math.min(lastKey, Number(rows[0].next_key) - 1) - firstKey + 1;
  if (capacity <= 0) return new Float64Array(0);
  const inRange = `dataset_id = ${dataset} AND sample_key BETWEEN ${firstKey} AND ${lastKey}`;
  let query = `SELECT sample_key FROM samples WHERE ${inRange}`;
  if (window.lastSeconds !== undefined) {
    query += ` AND ts >= (SELECT max(ts) FROM samples WHERE ${inRange}) - ${window.lastSeconds}`;
  }
  if (window.lastSamples !== undefined) {
    query += ` ORDER BY sample_key DESC LIMIT ${window.lastSamples}`;
    capacity = Math.min(capacity, window.lastSamples);
  }
  if (subsample) {
    const size = sqlInt('sampleSize', subsample.size, 1);
    const seed = sqlInt('seed', subsample.seed);
    // Ties of the 64-bit hash are broken by key, so the order is total and the subsample deterministic.
    query = `SELECT sample_key FROM (${query}) w ORDER BY hashint8extended(sample_key, ${seed}::bigint), sample_key LIMIT ${size}`;
    capacity = Math.min(capacity, size);
  }
  const { length, columns: [keys] } = await copyOut(pool, `SELECT sample_key FROM (${query}) k ORDER BY sample_key`, ['int8'], capacity);
  return keys.subarray(0, length);
}

export interface DataTime {
  count: number;
  /** Smallest, largest and sum of the samples' timestamps (seconds); 0 when count is 0. */
  minTs: number;
  maxTs: number;
  /** Exact while below 2^53 (about 5 million samples of today's Unix time). */
  sumTs: number;
}

/** Count and sample-time extremes and sum of the samples with keys in `range`, for latency regret. */
export async function dataTime(pool: pg.Pool, datasetId: number, range: KeyRange): Promise<DataTime> {
  const { firstKey, lastKey } = checkWindow(range);
  const { rows } = await pool.query<{ count: number; min_ts: string | null; max_ts: string | null; sum_ts: string | null }>(
    `SELECT count(*)::int AS count, min(ts) AS min_ts, max(ts) AS max_ts, sum(ts) AS sum_ts
     FROM samples WHERE dataset_id = $1 AND sample_key BETWEEN $2 AND $3`,
    [sqlInt('datasetId', datasetId), firstKey, lastKey],
  );
  const row = rows[0]!;
  return { count: row.count, minTs: Number(row.min_ts ?? 0), maxTs: Number(row.max_ts ?? 0), sumTs: Number(row.sum_ts ?? 0) };
}

/** The window as people read it, for messages: "keys [1, 500], last 200 samples". */
export function describeWindow(window: SampleWindow): string {
  const parts = [`keys [${window.firstKey}, ${window.lastKey}]`];
  if (window.lastSeconds !== undefined) parts.push(`last ${window.lastSeconds} s`);
  if (window.lastSamples !== undefined) parts.push(`last ${window.lastSamples} samples`);
  return parts.join(', ');
}

/** Its bounds; every value is checked here because it is inlined into SQL. */
function checkWindow(window: SampleWindow): KeyRange {
  const firstKey = sqlInt('window.firstKey', window.firstKey);
  const lastKey = sqlInt('window.lastKey', window.lastKey);
  if (lastKey < firstKey) throw new DataError(`window.lastKey ${lastKey} is before window.firstKey ${firstKey}`);
  if (window.lastSamples !== undefined) sqlInt('window.lastSamples', window.lastSamples, 1);
  if (window.lastSeconds !== undefined && !(Number.isFinite(window.lastSeconds) && window.lastSeconds >= 0)) {
    throw new DataError(`window.lastSeconds must be a number >= 0, got ${window.lastSeconds}`);
  }
  return { firstKey, lastKey };
}

function sqlInt(name: string, value: number, min = Number.MIN_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < min) throw new DataError(`${name} must be an integer${min > 0 ? ` >= ${min}` : ''}, got ${value}`);
  return value;
}
