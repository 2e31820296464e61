import type pg from 'pg';
import type { PolicyEvaluation } from '../../policies/triggers/protocol.js';

export interface PolicyEvaluationRow extends PolicyEvaluation {
  createdAt: Date;
}

/** Stores evaluations idempotently: one row per (pipeline, policy, interval end), a retry rewrites the same rows. */
export async function recordPolicyEvaluations(pool: pg.Pool, pipelineId: number, evaluations: PolicyEvaluation[]): Promise<void> {
  if (evaluations.length === 0) return;
  await pool.query(
    `INSERT INTO policy_evaluations (pipeline_id, policy, first_key, last_key, model_id, scores, thresholds, votes, triggered, reason, request)
     SELECT $1, e.policy, e.first_key, e.last_key, e.model_id, e.scores, e.thresholds, e.votes, e.triggered, e.reason, e.request
       FROM jsonb_to_recordset($2::jsonb) AS e(policy text, first_key bigint, last_key bigint, model_id int, scores jsonb,
            thresholds jsonb, votes jsonb, triggered boolean, reason text, request jsonb)
     ON CONFLICT (pipeline_id, policy, last_key) DO UPDATE SET
       first_key = EXCLUDED.first_key, model_id = EXCLUDED.model_id, scores = EXCLUDED.scores, thresholds = EXCLUDED.thresholds,
       votes = EXCLUDED.votes, triggered = EXCLUDED.triggered, reason = EXCLUDED.reason, request = EXCLUDED.request`,
    [pipelineId, JSON.stringify(evaluations.map((e) => ({
      policy: e.policy, first_key: e.interval.firstKey, last_key: e.interval.lastKey, model_id: e.modelId, scores: e.scores,
      thresholds: e.thresholds, votes: e.votes ?? null, triggered: e.triggered, reason: e.reason, request: e.request ?? null,
    })))],
  );
}

/** The latest `limit` evaluations of a pipeline's policies, newest first. */
export async function latestPolicyEvaluations(pool: pg.Pool, pipelineId: number, limit: number): Promise<PolicyEvaluationRow[]> {
  const { rows } = await pool.query(
    `SELECT policy, first_key, last_key, model_id, scores, thresholds, votes, triggered, reason, request, created_at
       FROM policy_evaluations WHERE pipeline_id = $1 ORDER BY last_key DESC, policy LIMIT $2`,
    [pipelineId, limit],
  );
  return rows.map((r) => ({
    policy: r.policy,
    interval: { firstKey: Number(r.first_key), lastKey: Number(r.last_key) },
    modelId: r.model_id,
    scores: r.scores,
    thresholds: r.thresholds,
    ...(r.votes && { votes: r.votes }),
    triggered: r.triggered,
    reason: r.reason,
    ...(r.request && { request: r.request }),
    createdAt: r.created_at,
  }));
}
