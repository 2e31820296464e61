/**
 * Error types that no retry can fix: a bad spec, a missing dataset, corrupt data, a model that does not
 * fit, a diverged model, a measurement whose model or samples cannot serve it, and a stage (selection,
 * training, storage, evaluation) that failed deterministically (activities/deterministic-errors.ts). Activities
 * raise them; workflows list them as non-retryable, so a pipeline fails fast with the message that names the culprit.
 */
export const NON_RETRYABLE = [
  'InvalidSpec', 'DatasetNotFound', 'InvalidData', 'NonFiniteLoss', 'ModelMismatch', 'MeasurementFailed',
  'SelectionFailed', 'TrainingFailed', 'StorageFailed', 'EvaluationFailed', 'Diverged',
] as const;
export type NonRetryableType = (typeof NON_RETRYABLE)[number];
