import { proxyActivities } from '@temporalio/workflow';
import type { CpuActivities, GpuActivities } from '../activities/index.js';
import { NON_RETRYABLE } from '../policies/failure-types.js';
import type { PipelineSpec } from '../policies/spec.js';

/**
 * Every retry is bounded (DESIGN invariant 7): deterministic failures are non-retryable at once, and what is
 * left, a transient fault, heals within the attempts or ends the pipeline with its cause. Backoff doubles from
 * 1 s to the 1 min cap, so attempt n starts about 1 + 2 + … + 32 + 60·(n − 7) seconds after the first.
 */
const backoff = { initialInterval: '1s', maximumInterval: '1m', nonRetryableErrorTypes: [...NON_RETRYABLE] };

/**
 * 10 attempts ≈ 4 minutes of backoff: enough to ride out a database restart or a control worker redeploy; a
 * fault still there after that is an outage an operator must see, not one to wait out silently.
 */
const cpuRetry = { ...backoff, maximumAttempts: 10 };

/**
 * 20 attempts ≈ 14 minutes of backoff, plus the attempts themselves: each killed or preempted gpu worker costs one
 * attempt (found within the 10 s heartbeat timeout) and at most one checkpoint interval of work, so training
 * survives many worker crashes in a row, yet a trigger that fails on every worker still ends.
 */
const gpuRetry = { ...backoff, maximumAttempts: 20 };

/** cpu activities heartbeat every few seconds (activities/heartbeating.ts), so a killed control worker is found in 30 s. */
export function cpuActivities(spec: Pick<PipelineSpec, 'queues'>) {
  return proxyActivities<CpuActivities>({ taskQueue: spec.queues.cpu, startToCloseTimeout: '10m', heartbeatTimeout: '30s', retry: cpuRetry });
}

/**
 * Training and evaluation heartbeat from a thread the model never blocks, so a short heartbeat
 * timeout finds a dead worker fast; the retry resumes from the last checkpoint.
 */
export function gpuActivities(spec: Pick<PipelineSpec, 'queues'>) {
  return proxyActivities<GpuActivities>({
    taskQueue: spec.queues.gpu,
    startToCloseTimeout: '12h',
    heartbeatTimeout: '10s',
    retry: gpuRetry,
  });
}
