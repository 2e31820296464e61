import type pg from 'pg';
import type { PipelineSpec } from '../policies/spec.js';
import { eachTrigger } from '../policies/triggers/schema.js';
import { categoricalCount, featureCount } from '../lib/data/dataset-config.js';
import { getDataset, type Dataset } from '../lib/data/datasets.js';
import { sampleShapeMismatch } from '../lib/data/sample-shape.js';
import type { ModelStore } from '../lib/models/store.js';
import type { UserModelSpec } from '../lib/models/user-graphs.js';
import type { ModelDefinition } from '../lib/onnx/models/model.js';
import { buildTrainStep, modelParameters } from '../lib/onnx/models/build.js';
import { configurationError } from './failures.js';
import { modelFor } from './model-for.js';
import { checkModelFootprint } from './model-footprint.js';

/**
 * Checks a spec against the data plane: the dataset exists, the model fits its samples, classes and the
 * worker's memory, and the triggers have what they watch. Pipeline registration runs it, and so does
 * `tide run` before it starts anything, so a spec that cannot run fails at once with the field to fix.
 */
export async function checkPipelineSpec(pool: pg.Pool, store: ModelStore, spec: PipelineSpec): Promise<{ dataset: Dataset; def: ModelDefinition }> {
  const dataset = await getDataset(pool, spec.dataset.name);
  if (!dataset) {
    throw configurationError('DatasetNotFound', `dataset.name: no dataset named "${spec.dataset.name}" is registered (register it with \`tide dataset add\`)`);
  }
  const format = dataset.format;
  const model = spec.model;
  if (model.architecture === 'dlrm') {
    // A binary click model: one logit, labels 0/1.
    if (format.numClasses !== undefined && format.numClasses !== 2) {
      throw configurationError(
        'ModelMismatch',
        `model.architecture: dlrm is a binary (click) model, but dataset "${dataset.name}" has ${format.numClasses} classes`,
      );
    }
  } else if (model.architecture !== 'onnx' && format.numClasses !== undefined && format.numClasses > model.numClasses) {
    throw configurationError(
      'ModelMismatch',
      `model.numClasses: ${model.numClasses} is fewer than the ${format.numClasses} classes of dataset "${dataset.name}"`,
    );
  }
  const def = await modelFor(model, featureCount(format), categoricalCount(format), store);
  if (model.architecture === 'onnx') checkUserModel(def, model, spec.training, dataset);
  checkModelFootprint(def, spec);
  checkTriggerNeeds(spec, def, dataset);
  checkSelectionNeeds(spec, def, dataset);
  await checkEvaluationDatasets(pool, spec, dataset);
  return { dataset, def };
}

/** Every separate evaluation dataset of `evaluation.afterPipeline` exists and holds samples the models can score. */
async function checkEvaluationDatasets(pool: pg.Pool, spec: PipelineSpec, dataset: Dataset): Promise<void> {
  for (const [i, request] of spec.evaluation.afterPipeline.entries()) {
    if (request.dataset === undefined) continue;
    const field = `evaluation.afterPipeline.${i}.dataset`;
    const evaluated = await getDataset(pool, request.dataset);
    if (!evaluated) throw configurationError('DatasetNotFound', `${field}: no dataset named "${request.dataset}" is registered (register it with \`tide dataset add\`)`);
    const mismatch = sampleShapeMismatch(dataset.format, evaluated.format);
    if (mismatch) throw configurationError('ModelMismatch', `${field}: dataset "${request.dataset}" cannot be scored by this pipeline's models: ${mismatch}`);
  }
}

/**
 * What loading a user's graphs cannot check alone: the train step against the contract for the spec's
 * optimizer and loss, the classes against the dataset's, and one optimizer step per session run.
 */
function checkUserModel(def: ModelDefinition, model: UserModelSpec, training: PipelineSpec['training'], dataset: Dataset): void {
  const { stepsPerRun, optimizer } = training;
  // Absent, the trainer runs a supplied graph's steps singly.
  if (stepsPerRun !== undefined && stepsPerRun !== 1) {
    throw configurationError('InvalidSpec', `training.stepsPerRun: ${stepsPerRun}, but a user's onnx train-step graph runs one optimizer step per session run; use 1`);
  }
  try {
    buildTrainStep(def, optimizer);
  } catch (err) {
    throw configurationError('ModelMismatch', (err as Error).message);
  }
  const classes = dataset.format.numClasses;
  if (classes === undefined) return;
  if (def.loss === 'softmax-ce' && classes > def.outputSize) {
    throw configurationError('ModelMismatch', `model.inference (${model.inference}): output 'output' has ${def.outputSize} classes, fewer than the ${classes} classes of dataset "${dataset.name}"`);
  }
  if (def.loss === 'bce-logits' && classes !== 2) {
    throw configurationError('ModelMismatch', `model.loss: bce-logits is a binary loss, but dataset "${dataset.name}" has ${classes} classes`);
  }
}

/** Triggers that judge predictions need a classifier's labels: a regression model has no accuracy to watch. */
function checkTriggerNeeds(spec: PipelineSpec, def: ModelDefinition, dataset: Dataset): void {
  for (const [path, trigger] of eachTrigger(spec.trigger)) {
    const judgesPredictions = trigger.kind === 'performance' || (trigger.kind === 'cost' && trigger.regret.kind === 'misclassifications');
    if (judgesPredictions && def.loss === 'mse') {
      throw configurationError(
        'InvalidSpec',
        `${path}.kind: ${trigger.kind} watches accuracy, but the model is a regression (mse) model of dataset "${dataset.name}", which has no classes`,
      );
    }
  }
}

/**
 * Selection that balances or ranks by class needs a classifier's labels, and batch-then-sample scores each batch
 * with an inference graph derived from the model's forward pass in the training worker.
 */
function checkSelectionNeeds(spec: PipelineSpec, def: ModelDefinition, dataset: Dataset): void {
  const refuse = (path: string, why: string) => configurationError('InvalidSpec', `selection.${path}: ${why}`);
  const regression = `the model is a regression (mse) model of dataset "${dataset.name}", which has no classes`;
  if (spec.selection.presampling?.strategy === 'labelBalanced' && def.loss === 'mse') {
    throw refuse('presampling.strategy', `labelBalanced balances over labels, but ${regression}`);
  }
  const schedule = spec.selection.downsampling ?? [];
  schedule.forEach((d, i) => {
    const at = `downsampling${schedule.length > 1 ? `.${i}` : ''}`;
    if (def.loss === 'mse' && (d.strategy === 'uncertainty' || ('balance' in d && d.balance))) {
      throw refuse(`${at}.strategy`, `${d.strategy}${d.strategy === 'uncertainty' ? '' : ' with balance'} needs class probabilities, but ${regression}`);
    }
    if (d.mode === 'batchThenSample' && (def.supplied || modelParameters(def).hostTables.length > 0)) {
      throw refuse(`${at}.mode`, `batchThenSample scores each batch with an inference graph derived from the model's forward pass, which ${def.supplied ? 'a model given as ONNX files' : `model ${def.architecture}, with embedding tables held outside the graph,`} does not have: use mode sampleThenBatch`);
    }
  });
}
