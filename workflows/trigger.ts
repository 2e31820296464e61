import { getExternalWorkflowHandle, workflowInfo } from '@temporalio/workflow';
import type { KeyRange } from '../policies/batches.js';
import { downsamplerFor, selectionPlan } from '../policies/selection/plan.js';
import type { PipelineSpec } from '../policies/spec.js';
import { cpuActivities, gpuActivities } from './activity-options.js';
import { triggerStageSignal, type TriggerStage } from './messages.js';

export interface TriggerInput {
  spec: PipelineSpec;
  pipelineId: number;
  datasetId: number;
  features: number;
  triggerId: number;
  /** The trigger's new data: keys after the previous cut, up to and including this one. */
  range: KeyRange;
  /** First key the pipeline saw, where "all data" selection starts. */
  firstKey: number;
  /** Model to fine-tune from, if any. */
  parentModelId: number | null;
  /** Why the trigger policy fired. */
  reason?: string;
}

export interface TriggerResult {
  triggerId: number;
  numNew: number;
  /** Samples the selection window held (absent from results recorded before selection plans). */
  numWindow?: number;
  numSelected: number;
  /** Absent when the training set was empty and no model was trained. */
  modelId?: number;
  trainingMs?: number;
  finalLoss?: number;
  /** Accuracy of this trigger's model on its own interval's held-out samples. */
  accuracy?: number;
  /** Accuracy of the model before it on this interval: how the deployed model did on data it had not seen. */
  previousAccuracy?: number;
}

/** One trigger: select → train → store → evaluate. A child of the pipeline workflow. */
export async function triggerWorkflow(input: TriggerInput): Promise<TriggerResult> {
  const { spec, pipelineId, datasetId, triggerId } = input;
  const cpu = cpuActivities(spec);
  const gpu = gpuActivities(spec);
  const parent = workflowInfo().parent;
  const report = async (stage: TriggerStage) => {
    if (parent) await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(triggerStageSignal, { triggerId, stage });
  };

  await report('selecting');
  const selection = await cpu.selectTrainingSet({
    pipelineId, datasetId, triggerId, trigger: input.range, pipelineFirstKey: input.firstKey,
    plan: selectionPlan(spec.selection, triggerId, spec.training.seed),
    reason: input.reason,
  });
  if (selection.numSelected === 0) return { triggerId, ...selection };

  await report('training');
  const trained = await gpu.trainModel({
    pipelineId, datasetId, triggerId, model: spec.model, features: input.features, training: spec.training,
    parentModelId: input.parentModelId, downsampling: downsamplerFor(spec.selection, triggerId), evaluationBatchSize: spec.evaluation.batchSize,
  });

  await report('storing');
  const { modelId } = await cpu.storeModel({
    pipelineId, triggerId, parentModelId: input.parentModelId, model: spec.model, features: input.features,
    trainedState: trained.trainedState, numSamples: trained.samples, trainingMs: trained.trainingMs, finalLoss: trained.finalLoss,
    numScored: trained.scoredSamples, scoringMs: trained.scoringMs,
  });

  await report('evaluating');
  const evaluated = await gpu.evaluateModels({
    pipelineId, datasetId, scope: { afterTrigger: triggerId }, batchSize: spec.evaluation.batchSize, metrics: spec.evaluation.metrics,
    models: spec.evaluation.models,
  });
  return {
    triggerId, ...selection, modelId, trainingMs: trained.trainingMs, finalLoss: trained.finalLoss,
    accuracy: evaluated.newestAccuracy, previousAccuracy: evaluated.previousAccuracy,
  };
}
