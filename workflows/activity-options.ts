import { proxyActivities } from '@temporalio/workflow';
import type { CpuActivities, GpuActivities } from '../activities/index.js';
import { NON_RETRYABLE } from '../policies/failure-types.js';
import type { PipelineSpec } from '../policies/spec.js';

const retry = { initialInterval: '1s', maximumInterval: '1m', nonRetryableErrorTypes: [...NON_RETRYABLE] };

export function cpuActivities(spec: PipelineSpec) {
  return proxyActivities<CpuActivities>({ taskQueue: spec.queues.cpu, startToCloseTimeout: '10m', retry });
}

/**
 * Training and evaluation heartbeat from a thread the model never blocks, so a short heartbeat
 * timeout finds a dead worker fast; the retry resumes from the last checkpoint.
 */
export function gpuActivities(spec: PipelineSpec) {
  return proxyActivities<GpuActivities>({
    taskQueue: spec.queues.gpu,
    startToCloseTimeout: '12h',
    heartbeatTimeout: '10s',
    retry,
  });
}
