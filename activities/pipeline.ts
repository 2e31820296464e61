import type { BatchDescriptor } from '../policies/batches.js';
import type { PipelineSpec } from '../policies/spec.js';
import { listBatches, splitBatch } from '../lib/data/batches.js';
import { categoricalCount, featureCount } from '../lib/data/dataset-config.js';
import { getDataset } from '../lib/data/datasets.js';
import { registerPipelinePartition } from '../lib/data/selection.js';
import { upsertPipeline } from '../lib/pipelines/registry.js';
import type { ActivityDeps } from './deps.js';
import { configurationError } from './failures.js';
import { modelFor } from './model-for.js';

export interface RegisteredPipeline {
  pipelineId: number;
  datasetId: number;
  features: number;
}

/** Pipeline bookkeeping and data discovery; runs on the cpu task queue. */
export function pipelineActivities({ pool }: ActivityDeps) {
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
      } else if (format.numClasses !== undefined && format.numClasses > model.numClasses) {
        throw configurationError(
          'ModelMismatch',
          `model.numClasses: ${model.numClasses} is fewer than the ${format.numClasses} classes of dataset "${dataset.name}"`,
        );
      }
      modelFor(model, featureCount(format), categoricalCount(format));
      const row = await upsertPipeline(pool, args.name, dataset.id, args.spec);
      await registerPipelinePartition(pool, row.pipelineId);
      return { pipelineId: row.pipelineId, datasetId: dataset.id, features: featureCount(format) };
    },

    /** Batches committed after `afterKey`: how a pipeline that starts late, or missed a signal, catches up. */
    async listNewBatches(args: { datasetId: number; afterKey: number; limit: number }): Promise<BatchDescriptor[]> {
      return listBatches(pool, args.datasetId, args.afterKey, args.limit);
    },

    /** Splits a batch at sample-time boundaries a trigger policy asked for. */
    async splitBatch(args: { batch: BatchDescriptor; boundaries: number[] }): Promise<BatchDescriptor[]> {
      return splitBatch(pool, args.batch, args.boundaries);
    },
  };
}
