import type { ModelSpec } from '../policies/spec.js';
import { categoricalCount } from '../lib/data/dataset-config.js';
import { getDatasetById } from '../lib/data/datasets.js';
import { ModelStore } from '../lib/models/store.js';
import { upsertModel } from '../lib/pipelines/models.js';
import { warningOf } from '../lib/train/divergence.js';
import { getPipeline } from '../lib/pipelines/registry.js';
import type { ActivityDeps } from './deps.js';
import { asActivityFailure } from './deterministic-errors.js';
import { configurationError } from './failures.js';
import { modelFor } from './model-for.js';

export interface StoreModelArgs {
  pipelineId: number;
  triggerId: number;
  parentModelId: number | null;
  model: ModelSpec;
  features: number;
  /** Store-relative path of the trained state the training activity wrote. */
  trainedState: string;
  numSamples: number;
  trainingMs: number;
  /** Scoring cost of model-based downsampling (absent from histories recorded before it). */
  numScored?: number;
  scoringMs?: number;
  finalLoss: number;
}

/** Publishes trained models into the model store with their lineage; runs on the cpu task queue. */
export function modelActivities({ pool, storeDir }: ActivityDeps) {
  const store = new ModelStore(storeDir);

  async function publish(args: StoreModelArgs): Promise<{ modelId: number }> {
    // The pipeline's dataset gives the categorical width (the workflow's arguments carry only `features`).
    const pipeline = await getPipeline(pool, args.pipelineId);
    const dataset = pipeline && (await getDatasetById(pool, pipeline.datasetId));
    if (!dataset) throw configurationError('DatasetNotFound', `the dataset of pipeline ${args.pipelineId} no longer exists`);
    const def = await modelFor(args.model, args.features, categoricalCount(dataset.format), store);
    const files = await store.publish(args.pipelineId, args.triggerId, def, args.trainedState);
    const modelId = await upsertModel(pool, args.pipelineId, {
      triggerId: args.triggerId,
      parentModelId: args.parentModelId,
      architecture: { ...args.model, features: args.features },
      onnxPath: files.onnxPath,
      statePath: files.statePath,
      sha256: files.sha256,
      numSamples: args.numSamples,
      trainingMs: args.trainingMs,
      numScored: args.numScored ?? 0,
      scoringMs: args.scoringMs ?? 0,
      finalLoss: Number.isFinite(args.finalLoss) ? args.finalLoss : null,
      warning: warningOf(files.extra) ?? null,
    });
    // The run's checkpoints are of no use once its model is stored; a retry finds the folder gone, which is fine.
    await store.removeRun(args.pipelineId, args.triggerId);
    return { modelId };
  }

  return {
    async storeModel(args: StoreModelArgs): Promise<{ modelId: number }> {
      try {
        return await publish(args);
      } catch (err) {
        throw asActivityFailure(err, 'StorageFailed', `trigger ${args.triggerId}: storing the model`);
      }
    },
  };
}
