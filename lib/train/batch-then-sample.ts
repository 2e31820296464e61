/**
 * Batch-then-sample downsampling as the trainer's selectBatch: each step loads B/ratio samples, scores them with a
 * forward pass of the model as it is after the previous step, and trains on the B the downsampler picks, with
 * their importance weights.
 */
import type { Downsampler } from '../../policies/selection/downsampling-schema.js';
import type { Batch } from '../data/batch.js';
import type { LossKind } from '../onnx/losses.js';
import type { SelectBatch } from './batch-selection.js';
import { downsamplers } from './downsampling/index.js';
import { pickedBatch } from './picked-batch.js';
import { scoredBatch } from './scored-batch.js';
import { selectWith } from './select-with.js';

/** Samples each step loads and scores: enough that `ratio` of them makes a full batch. */
export function scoredBatchSize(batchSize: number, ratio: number): number {
  return Math.ceil(batchSize / ratio);
}

/** Samples a step trains on out of a loaded batch of `loaded`: the batch size, or `ratio` of the epoch's short last batch. */
export function pickedCount(loaded: number, batchSize: number, ratio: number): number {
  return Math.min(batchSize, Math.max(1, Math.round(loaded * ratio)));
}

/**
 * `firstStep` counts the steps of the trigger done before (a resumed attempt): a step's draw depends on its index
 * in the trigger, so a resumed run picks what the interrupted one would have.
 */
export function batchThenSample(args: {
  downsampler: Downsampler; batchSize: number; loss: LossKind; seed: number; firstStep: number;
  /** RHO-LOSS: the irreducible-loss model's outputs on a batch. */
  irreducible?: (batch: Batch) => Promise<Float32Array>;
}): SelectBatch {
  const { downsampler, batchSize } = args;
  const needs = downsamplers[downsampler.strategy].needs;
  let step = args.firstStep;
  return async (batch, forward) => {
    const at = step++;
    const samples = needs === 'nothing' ? { n: batch.size } : scoredBatch(batch, await forward(batch, { embedding: needs !== 'outputs' }), args.loss);
    if (args.irreducible) Object.assign(samples, { irreducibleOutput: await args.irreducible(batch) });
    return pickedBatch(batch, selectWith(downsampler, samples, pickedCount(batch.size, batchSize, downsampler.ratio), args.seed, at));
  };
}
