import type pg from 'pg';
import { inTransaction } from '../../db/transaction.js';
import { DataError } from '../errors.js';

/**
 * The samples a sample-then-batch scoring round of a trigger chose, with their weights (downsampled_samples): the
 * round's epochs train on them. A round is written in one transaction, so it is there whole or not at all, and a
 * retried attempt that finds it trains on exactly the same samples.
 */
export async function writeDownsampledRound(
  pool: pg.Pool, args: { pipelineId: number; triggerId: number; round: number; keys: Float64Array; weights: Float32Array },
): Promise<void> {
  const { pipelineId, triggerId, round, keys, weights } = args;
  if (keys.length !== weights.length) throw new DataError(`round ${round}: ${keys.length} keys but ${weights.length} weights`);
  await inTransaction(pool, async (client) => {
    await client.query('DELETE FROM downsampled_samples WHERE pipeline_id = $1 AND trigger_id = $2 AND round = $3', [pipelineId, triggerId, round]);
    await client.query(
      `INSERT INTO downsampled_samples (pipeline_id, trigger_id, round, sample_key, weight)
       SELECT $1, $2, $3, k, w FROM unnest($4::bigint[], $5::real[]) AS p(k, w) ORDER BY k`,
      [pipelineId, triggerId, round, Array.from(keys), Array.from(weights)],
    );
  });
}

/** Samples of a written round; undefined when the round has not been scored yet. */
export async function countDownsampledRound(pool: pg.Pool, pipelineId: number, triggerId: number, round: number): Promise<number | undefined> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM downsampled_samples WHERE pipeline_id = $1 AND trigger_id = $2 AND round = $3',
    [pipelineId, triggerId, round],
  );
  return rows[0]!.n > 0 ? rows[0]!.n : undefined;
}

/** The keys of a written round, ascending. */
export async function roundKeys(pool: pg.Pool, pipelineId: number, triggerId: number, round: number): Promise<Float64Array> {
  const { rows } = await pool.query<{ k: string }>(
    'SELECT sample_key AS k FROM downsampled_samples WHERE pipeline_id = $1 AND trigger_id = $2 AND round = $3 ORDER BY sample_key',
    [pipelineId, triggerId, round],
  );
  return Float64Array.from(rows, (r) => Number(r.k));
}
