import type pg from 'pg';
import type { SelectionPlan } from '../../../policies/selection/plan.js';
import { heldOutSql } from '../holdout.js';

/** The downsampled_samples round that holds a trigger's RHO-LOSS holdout, or a twin holdout's first half. */
export const IRREDUCIBLE_ROUND = -1;
/** The round of a twin holdout's second half (scoring rounds count from 0). */
export const IRREDUCIBLE_TWIN_ROUND = -2;

/** Salt of the holdout's key hash, so it is independent of the presampling choices drawn with the same seed. */
const SALT = 0x5eed_0001;

/**
 * Writes where trigger `triggerId`'s RHO-LOSS irreducible-loss models train, by a seeded key hash, in the
 * selection's transaction: `simple` moves a `ratio` of its training set into downsampled_samples round
 * IRREDUCIBLE_ROUND (the trigger's model does not train on them); `twin` copies one half of the set into that
 * round and the other into IRREDUCIBLE_TWIN_ROUND (the trigger trains on all). Returns how many samples left the
 * training set.
 */
export async function holdOutForIrreducibleLoss(
  client: pg.PoolClient, pipelineId: number, triggerId: number, seed: number, holdout: NonNullable<SelectionPlan['irreducibleHoldout']>,
): Promise<number> {
  await client.query('DELETE FROM downsampled_samples WHERE pipeline_id = $1 AND trigger_id = $2 AND round < 0', [pipelineId, triggerId]);
  const hashed = heldOutSql('sample_key', '$3', '$4');
  const ratio = holdout.strategy === 'twin' ? 0.5 : holdout.ratio;
  const params = [pipelineId, triggerId, (seed ^ SALT) >>> 0, Math.floor(ratio * 2 ** 32), IRREDUCIBLE_ROUND];
  if (holdout.strategy === 'twin') {
    await client.query(
      `INSERT INTO downsampled_samples (pipeline_id, trigger_id, round, sample_key, weight)
       SELECT $1, $2, CASE WHEN ${hashed} THEN $5::int ELSE $6::int END, sample_key, 1
       FROM training_samples WHERE pipeline_id = $1 AND trigger_id = $2 ORDER BY sample_key`,
      [...params, IRREDUCIBLE_TWIN_ROUND],
    );
    return 0;
  }
  const { rowCount } = await client.query(
    `WITH moved AS (
       DELETE FROM training_samples WHERE pipeline_id = $1 AND trigger_id = $2 AND ${hashed}
       RETURNING sample_key
     )
     INSERT INTO downsampled_samples (pipeline_id, trigger_id, round, sample_key, weight)
     SELECT $1, $2, $5, sample_key, 1 FROM moved ORDER BY sample_key`,
    params,
  );
  return rowCount ?? 0;
}
