/**
 * Fits standardization (lib/onnx/layers/standardize.ts) on a trigger's training set: per-feature mean and 1/std,
 * read through the loader in one fixed order (seed 0, epoch 0) and summed in float64, so the same set always gives
 * the same values and a retried attempt fits exactly what the first one did.
 */
import type pg from 'pg';
import type { Dataset } from '../data/datasets.js';
import { trainingBatches } from '../data/loader.js';
import { STANDARDIZE } from '../onnx/layers/standardize.js';
import type { ModelState } from './model-state.js';

const BATCH = 4096;

export interface Standardization {
  mean: Float32Array;
  /** 1 / standard deviation; 1 for a feature that never varies. */
  scale: Float32Array;
}

export async function fitStandardization(pool: pg.Pool, dataset: Dataset, args: { pipelineId: number; triggerId: number; features: number }): Promise<Standardization> {
  const { features } = args;
  // Sums of values shifted by the first sample's, which keeps the variance exact for features far from zero.
  const shift = new Float64Array(features);
  const sum = new Float64Array(features);
  const squares = new Float64Array(features);
  let n = 0;
  for await (const batch of trainingBatches(pool, dataset, { pipelineId: args.pipelineId, triggerId: args.triggerId, batchSize: BATCH, seed: 0, epoch: 0 })) {
    if (n === 0) for (let f = 0; f < features; f++) shift[f] = batch.x[f]!;
    for (let row = 0; row < batch.size; row++) {
      for (let f = 0; f < features; f++) {
        const d = batch.x[row * features + f]! - shift[f]!;
        sum[f]! += d;
        squares[f]! += d * d;
      }
    }
    n += batch.size;
  }
  if (n === 0) throw new Error(`standardization: the training set of trigger ${args.triggerId} is empty`);
  const mean = new Float32Array(features);
  const scale = new Float32Array(features);
  for (let f = 0; f < features; f++) {
    const m = sum[f]! / n;
    const std = Math.sqrt(Math.max(squares[f]! / n - m * m, 0));
    mean[f] = shift[f]! + m;
    scale[f] = std > 1e-12 ? 1 / std : 1;
  }
  return { mean, scale };
}

/** The state with its standardization buffers replaced; other tensors are shared. */
export function withStandardization(state: ModelState, { mean, scale }: Standardization): ModelState {
  return { ...state, buffers: { ...state.buffers, [`${STANDARDIZE}.mean`]: mean, [`${STANDARDIZE}.scale`]: scale } };
}

/** Whether the model standardizes its features (it has the layer's buffers). */
export function standardizes(state: ModelState): boolean {
  return `${STANDARDIZE}.mean` in state.buffers;
}
