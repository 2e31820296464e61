/**
 * RHO-LOSS's irreducible-loss model: trained from a seeded initialization on the trigger's held-out samples
 * (lib/data/training-set/irreducible-holdout.ts), then served from an inference session in the training attempt's
 * scoring host, so each batch's irreducible loss is one more forward pass. Deterministic, so a retried attempt
 * trains the same model again rather than storing it.
 */
import type pg from 'pg';
import type { Batch } from '../data/batch.js';
import type { Dataset } from '../data/datasets.js';
import { trainingBatches, type LoaderOptions } from '../data/loader.js';
import { IRREDUCIBLE_ROUND } from '../data/training-set/irreducible-holdout.js';
import { batchInputs, inputFeeds } from '../onnx/batch-feeds.js';
import { buildInference } from '../onnx/models/build.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import type { OptimizerConfig } from '../onnx/optimizers.js';
import type { ExecutionProvider, SessionHost } from '../onnx/session-host.js';
import { initModelState } from './model-state.js';
import { trainModel } from './trainer.js';

export interface IrreducibleModel {
  /** The model's outputs on a batch, [size, outputSize]. */
  outputs(batch: Batch): Promise<Float32Array>;
}

export async function trainIrreducibleModel(
  pool: pg.Pool,
  dataset: Dataset,
  args: {
    pipelineId: number; triggerId: number; model: ModelDefinition; optimizer: OptimizerConfig; epochs: number; batchSize: number;
    seed: number; host: SessionHost; executionProvider?: ExecutionProvider; signal?: AbortSignal; loader?: LoaderOptions;
  },
): Promise<IrreducibleModel> {
  const { model, seed } = args;
  async function* batches(): AsyncGenerator<Batch> {
    for (let epoch = 0; epoch < args.epochs; epoch++) {
      yield* trainingBatches(pool, dataset, {
        pipelineId: args.pipelineId, triggerId: args.triggerId, batchSize: args.batchSize, seed, epoch, round: IRREDUCIBLE_ROUND, ...args.loader,
      });
    }
  }
  const { state } = await trainModel({
    model, optimizer: args.optimizer, state: initModelState(model, args.optimizer, seed), batches: batches(),
    seed, checkpointEvery: 0, executionProvider: args.executionProvider, signal: args.signal,
  });
  const session = await args.host.createSession(buildInference(model, { ...state.params, ...state.buffers }));
  const inputs = batchInputs(model, 'irreducible-loss model');
  return {
    async outputs(batch) {
      const out = await session.run(inputFeeds(batch, inputs), { fetch: ['output'] });
      return out.output!.data as Float32Array;
    },
  };
}
