import type { Downsampler } from '../../policies/selection/downsampling-schema.js';
import { downsamplers, type Picks, type ScoredSamples } from './downsampling/index.js';

/**
 * Picks k of the samples with the spec's downsampler: the registry entry of its strategy, given the spec entry as
 * its options (the spec's option names are the strategies' own). `epoch` varies the draw: the step for
 * batch-then-sample, the scoring round for sample-then-batch.
 */
export function selectWith(downsampler: Downsampler, samples: ScoredSamples | Pick<ScoredSamples, 'n'>, k: number, seed: number, epoch: number): Picks {
  // The registry's entries differ in their options' type; the spec's discriminated union pairs each with its own.
  const entry = downsamplers[downsampler.strategy] as { select(s: typeof samples, k: number, o: Downsampler, seed: number, epoch: number): Picks };
  return entry.select(samples, k, downsampler, seed, epoch);
}
