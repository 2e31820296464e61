import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, WorkflowFailedError } from '@temporalio/client';

/** Where a pipeline failed and why, read from the failure chain Temporal keeps: trigger, stage, cause, type. */
export interface PipelineFailure {
  message: string;
  /** The trigger whose child workflow failed, if the failure came from one. */
  trigger?: number;
  /** The activity that failed: registerPipeline, selectTrainingSet, trainModel, storeModel, evaluateModels, measureModel… */
  stage?: string;
  /** The application failure type, e.g. InvalidSpec, DatasetNotFound, InvalidData, TrainingFailed. */
  type?: string;
  /** What to do about it. */
  next: string;
}

const NEXT_STEPS: Record<string, string> = {
  InvalidSpec: 'fix the field named above in the spec and start it again (under a new --id if the name is taken)',
  DatasetNotFound: 'register the dataset with `tide dataset add <dataset.yaml>`, then start the pipeline again',
  ModelMismatch: 'change the model field named above so it fits the dataset, then start the pipeline again',
  InvalidData: 'fix or remove the file named above (`tide dataset show <dataset>` lists quarantined files), then start again',
  NonFiniteLoss: 'lower training.optimizer.lr or add training.optimizer.clipGradNorm, then start again',
  Diverged: 'lower training.optimizer.lr, or drop training.failOnDivergence to keep diverging models with a warning',
  MeasurementFailed: 'the trigger policy could not measure the model: check the model store and the windows named above',
};

/** The failure of a pipeline workflow, or undefined when `err` is not one. */
export function pipelineFailure(err: unknown): PipelineFailure | undefined {
  if (!(err instanceof WorkflowFailedError)) return undefined;
  const failure: PipelineFailure = { message: err.message, next: '' };
  for (let cause: unknown = err.cause; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof ChildWorkflowFailure) {
      const match = /\/trigger-(\d+)$/.exec(cause.execution.workflowId ?? '');
      if (match) failure.trigger = Number(match[1]);
    } else if (cause instanceof ActivityFailure) {
      failure.stage = cause.activityType;
    } else if (cause instanceof ApplicationFailure) {
      failure.type = cause.type ?? undefined;
    }
    failure.message = cause.message;
  }
  failure.next = (failure.type && NEXT_STEPS[failure.type])
    ?? 'read the workflow history in the Temporal Web UI for the failure\'s details, then start the pipeline again';
  return failure;
}

export function describeFailure(f: PipelineFailure): string {
  const where = [f.trigger !== undefined ? `trigger ${f.trigger}` : undefined, f.stage].filter(Boolean).join(', ');
  return [`Failed${where ? ` (${where})` : ''}: ${f.message}${f.type ? ` [${f.type}]` : ''}`, `Next: ${f.next}`].join('\n');
}
