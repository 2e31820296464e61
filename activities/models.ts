import type { ModelSpec } from '../policies/spec.js';
import { ModelStore } from '../lib/models/store.js';
import { upsertModel } from '../lib/pipelines/models.js';
import type { ActivityDeps } from './deps.js';
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
  finalLoss: number;
}

/** Publishes trained models into the model store with their lineage; runs on the cpu task queue. */
export function modelActivities({ pool, storeDir }: ActivityDeps) {
  const store = new ModelStore(storeDir);
  return {
    async storeModel(args: StoreModelArgs): Promise<{ modelId: number }> {
      const def = modelFor(args.model, args.features);
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
        finalLoss: Number.isFinite(args.finalLoss) ? args.finalLoss : null,
      });
      return { modelId };
    },
  };
}
