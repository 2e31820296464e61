import assert from 'node:assert/strict';
import type pg from 'pg';

/**
 * What a pipeline left in the database, minus what legitimately differs between two runs of it: ids the database
 * hands out (pipeline, model), wall times (created_at, training_ms, evaluation_ms) and paths (they name the
 * pipeline id). Everything else is a function of the spec, the seed and the data, so a run under faults must
 * leave exactly what an uninterrupted run leaves.
 */
export interface PipelineOutcome {
  triggers: Record<string, unknown>[];
  /** Per trigger, its training set as "key:weight", in key order. */
  trainingSets: Record<number, string[]>;
  models: Record<string, unknown>[];
  evaluations: Record<string, unknown>[];
  /** Evaluation calls and how many cells each covered. */
  evaluationRuns: Record<string, unknown>[];
}

export async function readOutcome(pool: pg.Pool, pipelineId: number): Promise<PipelineOutcome> {
  const q = async (text: string) => (await pool.query(text, [pipelineId])).rows;
  const triggers = await q(
    `SELECT trigger_id, first_key, last_key, num_new, min_ts, max_ts, num_window, num_selected, reason
       FROM triggers WHERE pipeline_id = $1 ORDER BY trigger_id`,
  );
  const samples = await q('SELECT trigger_id, sample_key, weight FROM training_samples WHERE pipeline_id = $1 ORDER BY trigger_id, sample_key');
  const trainingSets: Record<number, string[]> = {};
  for (const s of samples) (trainingSets[s.trigger_id] ??= []).push(`${s.sample_key}:${s.weight}`);
  const models = await q(
    `SELECT m.trigger_id, p.trigger_id AS parent_trigger, m.sha256, m.num_samples, m.final_loss, m.num_scored, m.warning, m.architecture
       FROM models m LEFT JOIN models p ON p.model_id = m.parent_model_id WHERE m.pipeline_id = $1 ORDER BY m.trigger_id`,
  );
  const evaluations = await q(
    `SELECT m.trigger_id AS model_trigger, e.interval_id, e.first_key, e.last_key, e.num_samples, e.accuracy, e.loss, e.metrics
       FROM evaluations e JOIN models m USING (model_id) WHERE e.pipeline_id = $1 ORDER BY m.trigger_id, e.interval_id`,
  );
  const evaluationRuns = await q('SELECT scope, cells FROM evaluation_runs WHERE pipeline_id = $1 ORDER BY scope');
  return { triggers, trainingSets, models, evaluations, evaluationRuns };
}

/**
 * The invariants every fault must keep, against an uninterrupted reference run of the same spec and seed on the
 * same data: the same triggers (none missing or doubled: ids 0..n-1), the same training set per trigger, the same
 * models bit for bit (sha256 of the exported .onnx), and one evaluation per (model, interval) with the same metrics.
 * Primary keys make a doubled row impossible to store; these checks find a missing, extra or different one.
 */
export async function assertSameOutcome(pool: pg.Pool, faultedId: number, referenceId: number, what: string): Promise<PipelineOutcome> {
  const [faulted, reference] = await Promise.all([readOutcome(pool, faultedId), readOutcome(pool, referenceId)]);
  assert.deepEqual(faulted.triggers.map((t) => t.trigger_id), reference.triggers.map((_, i) => i), `${what}: trigger ids`);
  assert.deepEqual(faulted.triggers, reference.triggers, `${what}: trigger rows`);
  for (const [trigger, set] of Object.entries(reference.trainingSets)) {
    assert.deepEqual(faulted.trainingSets[Number(trigger)], set, `${what}: training set of trigger ${trigger}`);
  }
  assert.deepEqual(Object.keys(faulted.trainingSets), Object.keys(reference.trainingSets), `${what}: triggers with a training set`);
  assert.deepEqual(faulted.models, reference.models, `${what}: models (sha256, samples, loss, lineage)`);
  assert.deepEqual(faulted.evaluations, reference.evaluations, `${what}: evaluation cells and their metrics`);
  assert.deepEqual(faulted.evaluationRuns, reference.evaluationRuns, `${what}: evaluation calls`);
  assert.ok(reference.models.length > 0, `${what}: the reference trained no model`);
  return faulted;
}

/**
 * Ingestion kept exact: every file once, its samples all there with the dataset's next dense keys, none partial,
 * none doubled, and the key counter right after the last one.
 */
export async function assertIngestExact(pool: pg.Pool, datasetId: number, expectedFiles: { path: string; samples: number }[]): Promise<void> {
  const { rows: files } = await pool.query(
    `SELECT f.path, f.num_samples, f.first_key, f.last_key, count(s.sample_key)::int AS stored,
            min(s.sample_key) AS min_key, max(s.sample_key) AS max_key
       FROM files f LEFT JOIN samples s ON s.dataset_id = f.dataset_id AND s.file_id = f.file_id
      WHERE f.dataset_id = $1 GROUP BY f.file_id ORDER BY f.first_key`,
    [datasetId],
  );
  assert.deepEqual(
    files.map((f) => ({ path: f.path, samples: f.num_samples })).sort((a, b) => a.path.localeCompare(b.path)),
    [...expectedFiles].sort((a, b) => a.path.localeCompare(b.path)),
    'ingested files',
  );
  let next = 1;
  for (const f of files) {
    assert.equal(f.first_key, next, `${f.path}: keys follow the previous file's without a gap`);
    assert.deepEqual([f.stored, f.min_key, f.max_key], [f.num_samples, f.first_key, f.last_key], `${f.path}: samples stored whole`);
    next = f.last_key + 1;
  }
  const { rows: [totals] } = await pool.query(
    `SELECT count(*)::int AS n, count(DISTINCT sample_key)::int AS keys, (SELECT next_key FROM datasets WHERE dataset_id = $1) AS next_key
       FROM samples WHERE dataset_id = $1`,
    [datasetId],
  );
  assert.deepEqual(totals, { n: next - 1, keys: next - 1, next_key: next }, 'samples: no extra, doubled or missing row');
}
