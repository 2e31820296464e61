/**
 * The per-step scalar feeds of a train step that are not data: learning rates and the dropout seed. Each is a
 * pure function of configuration and the global step, so a run resumed from a checkpoint (which carries the
 * step and the seed) feeds exactly what the uninterrupted run would have.
 */
import { baseLearningRates, type OptimizerConfig } from '../onnx/optimizers.js';

/**
 * Learning-rate schedule. `warmupSteps` (any kind) ramps linearly, base·(step+1)/warmupSteps, over the first
 * steps; the decay then starts where warm-up ends:
 * - constant: base;
 * - step: base·gamma^⌊s/every⌋, s = steps since warm-up (torch StepLR);
 * - cosine: from base to `minLr` (default 0, absolute as torch's eta_min) over the `totalSteps − warmupSteps`
 *   steps after warm-up (totalSteps counts the warm-up, as in Hugging Face's cosine-with-warmup); minLr after.
 */
export type ScheduleConfig =
  | { kind: 'constant'; warmupSteps?: number }
  | { kind: 'step'; every: number; gamma: number; warmupSteps?: number }
  | { kind: 'cosine'; totalSteps: number; minLr?: number; warmupSteps?: number };

/** Throws a message naming the field unless `schedule` is usable. */
export function checkSchedule(schedule: ScheduleConfig): void {
  const warmup = schedule.warmupSteps ?? 0;
  const bad = (why: string): Error => new Error(`learning-rate schedule '${schedule.kind}': ${why}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw bad(`warmupSteps ${warmup} is not a step count`);
  if (schedule.kind === 'step') {
    if (!Number.isInteger(schedule.every) || schedule.every < 1) throw bad(`every ${schedule.every} must be a positive integer`);
    if (!(schedule.gamma > 0)) throw bad(`gamma ${schedule.gamma} must be positive`);
  }
  if (schedule.kind === 'cosine') {
    if (!Number.isInteger(schedule.totalSteps) || schedule.totalSteps <= warmup) {
      throw bad(`totalSteps ${schedule.totalSteps} must be an integer above warmupSteps ${warmup}`);
    }
    if ((schedule.minLr ?? 0) < 0) throw bad(`minLr ${schedule.minLr} is negative`);
  }
}

/** Learning rate of the step taken after `step` (0-based global step) steps; no schedule = `base`. */
export function learningRateAt(base: number, schedule: ScheduleConfig | undefined, step: number): number {
  if (!schedule) return base;
  const warmup = schedule.warmupSteps ?? 0;
  if (step < warmup) return (base * (step + 1)) / warmup;
  const s = step - warmup;
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'step':
      return base * schedule.gamma ** Math.floor(s / schedule.every);
    case 'cosine': {
      const minLr = schedule.minLr ?? 0;
      const span = schedule.totalSteps - warmup;
      return minLr + ((base - minLr) * (1 + Math.cos((Math.PI * Math.min(s, span)) / span))) / 2;
    }
  }
}

/** Every learning-rate input of the train step (`lr`, `lr__<i>`) at `step`: each group's base rate, scheduled. */
export function learningRatesAt(opt: OptimizerConfig, schedule: ScheduleConfig | undefined, step: number): Record<string, number> {
  const rates = baseLearningRates(opt);
  for (const name of Object.keys(rates)) rates[name] = learningRateAt(rates[name]!, schedule, step);
  return rates;
}

/** Largest integer span float32 holds exactly: the `rng_seed` input is a float scalar. */
const SEED_SPAN = 2 ** 24;

/**
 * The `rng_seed` fed to the step numbered `step` (1-based, as the `step` input): an integer in [0, 2^24),
 * a murmur3-style mix of (seed, step), so neighbouring steps and seeds get unrelated dropout masks.
 */
export function rngSeedAt(seed: number, step: number): number {
  let h = Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(step >>> 0, 0x85ebca77) ^ Math.imul(Math.floor(step / 2 ** 32), 0xc2b2ae3d);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) % SEED_SPAN;
}
