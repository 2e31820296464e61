/**
 * The feeds of one train-step run: the stored parameters, buffers and optimizer state, the batch, and the step's
 * learning rates, 1-based global step and rng seed. A run of the multi-step graph (multi-step.ts) takes each of them
 * stacked along a new leading dim, its batches stacked as they arrived (stacked-batches.ts).
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

/** Feeds of a single step, the step after `stepsBefore` global steps, on `batch` (its buffers fed as they are). */
export function singleStepFeeds(cfg: StepFeedsConfig, batch: Batch, stepsBefore: number): Record<string, Feed> {
  const step = stepsBefore + 1;
  const feeds: Record<string, Feed> = { ...cfg.stored, ...trainBatchFeeds(batch, cfg.model, cfg.inputs), step: scalar(step) };
  for (const [name, lr] of Object.entries(cfg.learningRates(stepsBefore))) feeds[name] = scalar(lr);
  if (cfg.takesRngSeed) feeds.rng_seed = scalar(rngSeedAt(cfg.rngSeed, step));
  return feeds;
}

/** Feeds of the run of `count` consecutive steps after `stepsBefore` global steps, on its stacked batch feeds. */
export function multiStepFeeds(cfg: StepFeedsConfig, batchFeeds: Record<string, Feed>, count: number, stepsBefore: number): Record<string, Feed> {
  const steps = Array.from({ length: count }, (_, j) => ({ lrs: cfg.learningRates(stepsBefore + j), step: stepsBefore + j + 1 }));
  const feeds: Record<string, Feed> = { ...cfg.stored, ...batchFeeds, step: vector(steps.map((s) => s.step)) };
  for (const name of Object.keys(steps[0]!.lrs)) feeds[name] = vector(steps.map((s) => s.lrs[name]!));
  feeds.rng_seed = vector(steps.map((s) => rngSeedAt(cfg.rngSeed, s.step)));
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
