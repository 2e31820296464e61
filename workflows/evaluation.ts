import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import type { PlannedEvaluation } from '../activities/evaluation-plan.js';
import type { MetricSpec } from '../policies/evaluation/metric-specs.js';
import { planRequestSchema, type PlanRequest } from '../policies/evaluation/plan-request.js';
import type { PipelineSpec } from '../policies/spec.js';
import { cpuActivities, gpuActivities } from './activity-options.js';

/** What `evaluationWorkflow` takes: a plan request for one pipeline, with the metrics and queues of its spec. */
export interface EvaluationInput {
  pipelineId: number;
  request: PlanRequest;
  metrics: readonly MetricSpec[];
  /** Samples per inference run; absent: sized by the samples' width. */
  batchSize?: number;
  queues: PipelineSpec['queues'];
}

/**
 * An evaluation in sample time of a pipeline's models: a child of the pipeline when it ends (the spec's
 * `evaluation.afterPipeline`), or started by `tide evaluate` on a finished or running pipeline. Its workflow id
 * names its plan, so a retried planning finds it and the scores resume after the last stored cell.
 */
export async function evaluationWorkflow(input: EvaluationInput): Promise<PlannedEvaluation> {
  const parsed = planRequestSchema.safeParse(input.request);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ');
    throw ApplicationFailure.nonRetryable(`invalid evaluation request: ${issues}`, 'InvalidSpec');
  }
  const request = parsed.data;
  const planned = await cpuActivities(input).planEvaluation({
    name: workflowInfo().workflowId, pipelineId: input.pipelineId, dataset: request.dataset, strategy: request.strategy, models: request.models,
  });
  await gpuActivities(input).evaluatePlan({ planId: planned.planId, metrics: input.metrics, batchSize: input.batchSize });
  return planned;
}
