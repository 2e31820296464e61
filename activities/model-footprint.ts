import { totalmem } from 'node:os';
import type { ModelDefinition } from '../lib/onnx/models/model.js';
import { trainingFootprint } from '../lib/train/footprint.js';
import type { ModelSpec, PipelineSpec } from '../policies/spec.js';
import { configurationError } from './failures.js';

/**
 * Share of a worker's memory that a model's state and activations may take. Training holds more than one copy of
 * the state (the session's inputs and its updated outputs, the gradients, a checkpoint snapshot being written),
 * so a model past a quarter of memory cannot train, and would only fail every attempt with an allocation error.
 */
const MEMORY_SHARE = 1 / 4;

/** The spec field that sizes each architecture most, named when its model does not fit. */
const SIZE_FIELD: Record<ModelSpec['architecture'], string> = {
  logisticRegression: 'model.numClasses',
  mlp: 'model.hidden',
  cnn: 'model.filters',
  resnet: 'model.widths',
  textClassifier: 'model.vocabSize',
  dlrm: 'model.vocabSize',
  onnx: 'model.trainStep',
};

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/**
 * Refuses, with a configuration error naming the field to change, a model whose parameters, optimizer state and
 * activations at training.batchSize exceed MEMORY_SHARE of `memoryBytes`. The registering worker's memory stands
 * for the gpu worker's: they are one machine in the embedded stack, and alike in a sized deployment.
 */
export function checkModelFootprint(def: ModelDefinition, spec: PipelineSpec, memoryBytes = totalmem()): void {
  const { optimizer, batchSize } = spec.training;
  const { parameters, stateBytes, activationBytes } = trainingFootprint(def, optimizer, batchSize);
  const budget = memoryBytes * MEMORY_SHARE;
  if (stateBytes + activationBytes <= budget) return;
  const field = activationBytes > stateBytes ? 'training.batchSize' : SIZE_FIELD[spec.model.architecture];
  throw configurationError(
    'ModelMismatch',
    `${field}: the ${def.architecture} model has ${parameters.toLocaleString('en-US')} parameters, needing ${gib(stateBytes)} with `
    + `${optimizer.name} state and about ${gib(activationBytes)} of activations at training.batchSize ${batchSize}: `
    + `more than the ${gib(budget)} (a quarter of this worker's ${gib(memoryBytes)} memory) a model may take`,
  );
}
