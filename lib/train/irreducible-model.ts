/**
 * RHO-LOSS's irreducible-loss models: each trained from a seeded initialization on held-out samples of the trigger
 * (a downsampled_samples round, see lib/data/training-set/irreducible-holdout.ts), then served from an inference
 * session in the training attempt's session host, so each batch's irreducible loss is one more forward pass (two
 * for a twin holdout). Deterministic, so a retried attempt trains the same models again rather than storing them.
 */
import type pg from 'pg';
import type { Batch } from '../data/batch.js';
import type { Dataset } from '../data/datasets.js';
import { trainingBatches, type LoaderOptions } from '../data/loader.js';
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
  /** Releases its session(s) on the host, which outlives it. */
  release(): Promise<void>;
}

export async function trainIrreducibleModel(
  pool: pg.Pool,
  dataset: Dataset,
  args: {
    pipelineId: number; triggerId: number; round: number; model: ModelDefinition; optimizer: OptimizerConfig; epochs: number; batchSize: number;
    seed: number; host: SessionHost; executionProvider?: ExecutionProvider; signal?: AbortSignal; loader?: LoaderOptions;
  },
): Promise<IrreducibleModel> {
  const { model, seed } = args;
  async function* batches(): AsyncGenerator<Batch> {
    for (let epoch = 0; epoch < args.epochs; epoch++) {
      yield* trainingBatches(pool, dataset, {
        pipelineId: args.pipelineId, triggerId: args.triggerId, batchSize: args.batchSize, seed, epoch, round: args.round, ...args.loader,
      });
    }
  }
  const { state } = await trainModel({
    model, optimizer: args.optimizer, state: initModelState(model, args.optimizer, seed), batches: batches(),
    seed, checkpointEvery: 0, host: args.host, executionProvider: args.executionProvider, signal: args.signal,
  });
  const session = await args.host.createSession(buildInference(model, { ...state.params, ...state.buffers }));
  const inputs = batchInputs(model, 'irreducible-loss model');
  return {
    async outputs(batch) {
      const out = await session.run(inputFeeds(batch, inputs), { fetch: ['output'] });
      return out.output!.data as Float32Array;
    },
    release: () => session.release(),
  };
}

/**
 * A twin holdout's irreducible loss: each sample is scored by the model trained on the half it is not in
 * (`firstHalf`: the ascending keys of the half `first` trained on), so no sample's irreducible loss comes from a
 * model that saw it. Batches carry their keys.
 */
export function twinIrreducibleModel(first: IrreducibleModel, second: IrreducibleModel, firstHalf: Float64Array): IrreducibleModel {
  return {
    async outputs(batch) {
      if (!batch.keys) throw new Error('a twin irreducible loss needs the batch\'s keys');
      const [fromFirst, fromSecond] = await Promise.all([first.outputs(batch), second.outputs(batch)]);
      const width = fromFirst.length / batch.size;
      const out = new Float32Array(fromFirst.length);
      for (let i = 0; i < batch.size; i++) {
        const source = contains(firstHalf, batch.keys[i]!) ? fromSecond : fromFirst;
        out.set(source.subarray(i * width, (i + 1) * width), i * width);
      }
      return out;
    },
    release: async () => {
      await Promise.all([first.release(), second.release()]);
    },
  };
}

function contains(sorted: Float64Array, key: number): boolean {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return sorted[lo] === key;
}
