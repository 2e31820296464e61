import type pg from 'pg';

/**
 * Bumps the use count of every sample in trigger `triggerId`'s training set (sample_uses): freshness and
 * randomNoReplacement prefer samples no earlier trigger of the pipeline trained on. Runs in the selection's
 * transaction, which commits once per trigger (see selectTrainingSet), so a retry never counts a use twice.
 */
export async function recordUses(client: pg.PoolClient, pipelineId: number, triggerId: number): Promise<void> {
  await client.query(
    `INSERT INTO sample_uses (pipeline_id, sample_key, uses, last_trigger)
     SELECT pipeline_id, sample_key, 1, trigger_id FROM training_samples WHERE pipeline_id = $1 AND trigger_id = $2
     ON CONFLICT (pipeline_id, sample_key) DO UPDATE SET uses = sample_uses.uses + 1, last_trigger = EXCLUDED.last_trigger`,
    [pipelineId, triggerId],
  );
}
