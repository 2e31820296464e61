/**
 * The feeds of one train-step run: the stored parameters, buffers and optimizer state, the batch, and the step's
 * learning rates, 1-based global step and rng seed. A run of K > 1 steps (multi-step.ts) takes each of them
 * stacked along a new leading dim.
 */
import type { Batch } from '../data/batch.js';
import type { BatchInputs } from '../onnx/batch-feeds.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import { baseLearningRates, type OptimizerConfig } from '../onnx/optimizers.js';
import type { Feed, TensorData } from '../onnx/session-host.js';
import { learningRatesAt, rngSeedAt } from './schedules.js';
import { trainBatchFeeds } from './train-batch.js';
import type { TrainOptions } from './train-options.js';

export interface StepFeedsConfig {
  model: ModelDefinition;
  inputs: BatchInputs;
  /** The graph's state inputs, fed from the worker's store. */
  stored: Record<string, Feed>;
  /** Learning-rate inputs for the step after `step` global steps. */
  learningRates: (step: number) => Record<string, number>;
  rngSeed: number;
  /** Whether the single-step graph has an `rng_seed` input (the multi-step graph always has). */
  takesRngSeed: boolean;
}

/** Feeds of the run of `run.length` consecutive steps after `stepsBefore` global steps. */
export function stepFeeds(cfg: StepFeedsConfig, run: Batch[], stepsBefore: number): Record<string, Feed> {
  const { model, inputs, stored, learningRates, rngSeed } = cfg;
  const steps = run.map((_, j) => ({ lrs: learningRates(stepsBefore + j), step: stepsBefore + j + 1 }));
  if (run.length === 1) {
    const { lrs, step } = steps[0]!;
    const feeds: Record<string, Feed> = { ...stored, ...trainBatchFeeds(run[0]!, model, inputs), step: scalar(step) };
    for (const [name, lr] of Object.entries(lrs)) feeds[name] = scalar(lr);
    if (cfg.takesRngSeed) feeds.rng_seed = scalar(rngSeedAt(rngSeed, step));
    return feeds;
  }
  const feeds: Record<string, Feed> = {
    ...stored, ...stackFeeds(run.map((b) => trainBatchFeeds(b, model, inputs))), step: vector(steps.map((s) => s.step)),
  };
  for (const name of Object.keys(steps[0]!.lrs)) feeds[name] = vector(steps.map((s) => s.lrs[name]!));
  feeds.rng_seed = vector(steps.map((s) => rngSeedAt(rngSeed, s.step)));
  return feeds;
}

/**
 * Value of every learning-rate input (`lr`, `lr__<i>`) for the step after `step` global steps. A `learningRate`
 * callback gives the base rate and groups keep their ratio to it (exactly 1 for groups without their own lr).
 */
export function learningRateFeeds(
  opt: OptimizerConfig, opts: Pick<TrainOptions, 'learningRate' | 'schedule' | 'scheduleStartStep'>,
): (step: number) => Record<string, number> {
  const { learningRate, schedule, scheduleStartStep = 0 } = opts;
  if (!learningRate) return (step) => learningRatesAt(opt, schedule, step - scheduleStartStep);
  const bases = Object.entries(baseLearningRates(opt));
  return (step) => {
    const lr = learningRate(step);
    return Object.fromEntries(bases.map(([name, base]) => [name, base === opt.lr ? lr : lr * (base / opt.lr)]));
  };
}

function scalar(v: number): TensorData {
  return { type: 'float32', dims: [], data: Float32Array.of(v) };
}

function vector(v: number[]): TensorData {
  return { type: 'float32', dims: [v.length], data: Float32Array.from(v) };
}

/** Each feed of equally shaped per-step feeds, stacked along a new leading dim (a fresh buffer, transferable). */
function stackFeeds(steps: Record<string, TensorData>[]): Record<string, TensorData> {
  return Object.fromEntries(Object.entries(steps[0]!).map(([name, first]) => {
    const parts = steps.map((s) => s[name]!.data);
    const data = new (first.data.constructor as new (n: number) => typeof first.data)(parts.reduce((a, p) => a + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      (data as Float32Array).set(p as Float32Array, offset);
      offset += p.length;
    }
    return [name, { type: first.type, dims: [steps.length, ...first.dims], data } as TensorData];
  }));
}
