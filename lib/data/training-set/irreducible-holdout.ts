import type pg from 'pg';
import { heldOutSql } from '../holdout.js';

/** The downsampled_samples round that holds a trigger's RHO-LOSS holdout (scoring rounds count from 0). */
export const IRREDUCIBLE_ROUND = -1;

/** Salt of the holdout's key hash, so it is independent of the presampling choices drawn with the same seed. */
const SALT = 0x5eed_0001;

/**
 * Moves a seeded `ratio` of trigger `triggerId`'s training set into downsampled_samples round IRREDUCIBLE_ROUND:
 * RHO-LOSS trains its irreducible-loss model on them, and the trigger's model does not. Runs in the selection's
 * transaction; returns how many samples moved.
 */
export async function holdOutForIrreducibleLoss(client: pg.PoolClient, pipelineId: number, triggerId: number, seed: number, ratio: number): Promise<number> {
  await client.query('DELETE FROM downsampled_samples WHERE pipeline_id = $1 AND trigger_id = $2 AND round = $3', [pipelineId, triggerId, IRREDUCIBLE_ROUND]);
  const { rowCount } = await client.query(
    `WITH moved AS (
       DELETE FROM training_samples WHERE pipeline_id = $1 AND trigger_id = $2 AND ${heldOutSql('sample_key', '$3', '$4')}
       RETURNING sample_key
     )
     INSERT INTO downsampled_samples (pipeline_id, trigger_id, round, sample_key, weight)
     SELECT $1, $2, $5, sample_key, 1 FROM moved ORDER BY sample_key`,
    [pipelineId, triggerId, (seed ^ SALT) >>> 0, Math.floor(ratio * 2 ** 32), IRREDUCIBLE_ROUND],
  );
  return rowCount ?? 0;
}
