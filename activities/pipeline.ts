import type { BatchDescriptor } from '../policies/batches.js';
import type { PipelineSpec } from '../policies/spec.js';
import { listBatches, splitBatch } from '../lib/data/batches.js';
import { categoricalCount, featureCount } from '../lib/data/dataset-config.js';
import { getDataset, type Dataset } from '../lib/data/datasets.js';
import { registerPipelinePartition } from '../lib/data/selection.js';
import { ModelStore } from '../lib/models/store.js';
import type { UserModelSpec } from '../lib/models/user-graphs.js';
import { buildTrainStep } from '../lib/onnx/models/build.js';
import type { ModelDefinition } from '../lib/onnx/models/model.js';
import { recordPolicyEvaluations } from '../lib/pipelines/policy-evaluations.js';
import { upsertPipeline } from '../lib/pipelines/registry.js';
import type { PolicyEvaluation } from '../policies/triggers/protocol.js';
import { eachTrigger } from '../policies/triggers/schema.js';
import type { ActivityDeps } from './deps.js';
import { configurationError } from './failures.js';
import { modelFor } from './model-for.js';

export interface RegisteredPipeline {
  pipelineId: number;
  datasetId: number;
  features: number;
}

/** Pipeline bookkeeping and data discovery; runs on the cpu task queue. */
export function pipelineActivities({ pool, storeDir }: ActivityDeps) {
  const store = new ModelStore(storeDir);
  return {
    /** Checks the spec against the data plane and records the pipeline (idempotent). */
    async registerPipeline(args: { name: string; spec: PipelineSpec }): Promise<RegisteredPipeline> {
      const dataset = await getDataset(pool, args.spec.dataset.name);
      if (!dataset) {
        throw configurationError('DatasetNotFound', `dataset.name: no dataset named "${args.spec.dataset.name}" is registered (register it with \`tide dataset add\`)`);
      }
      const format = dataset.format;
      const model = args.spec.model;
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
      if (model.architecture === 'onnx') checkUserModel(def, model, args.spec.training, dataset);
      checkTriggerNeeds(args.spec, def, dataset);
      const row = await upsertPipeline(pool, args.name, dataset.id, args.spec);
      await registerPipelinePartition(pool, row.pipelineId);
      return { pipelineId: row.pipelineId, datasetId: dataset.id, features: featureCount(format) };
    },

    /** Batches committed after `afterKey`: how a pipeline that starts late, or missed a signal, catches up. */
    async listNewBatches(args: { datasetId: number; afterKey: number; limit: number }): Promise<BatchDescriptor[]> {
      return listBatches(pool, args.datasetId, args.afterKey, args.limit);
    },

    /** Stores evaluations of the trigger policy (idempotent: keyed by policy and interval). */
    async recordPolicyEvaluations(args: { pipelineId: number; evaluations: PolicyEvaluation[] }): Promise<void> {
      await recordPolicyEvaluations(pool, args.pipelineId, args.evaluations);
    },

    /** Splits a batch at sample-time boundaries a trigger policy asked for. */
    async splitBatch(args: { batch: BatchDescriptor; boundaries: number[] }): Promise<BatchDescriptor[]> {
      return splitBatch(pool, args.batch, args.boundaries);
    },
  };
}

/**
 * What loading a user's graphs cannot check alone: the train step against the contract for the spec's
 * optimizer and loss, the classes against the dataset's, and one optimizer step per session run.
 */
function checkUserModel(def: ModelDefinition, model: UserModelSpec, training: PipelineSpec['training'], dataset: Dataset): void {
  const { stepsPerRun, optimizer } = training;
  if (stepsPerRun !== 1) {
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
