/**
 * The model-based downsamplers by strategy name (the `strategy` of policies/selection/downsampling-schema.ts),
 * each as what its scoring pass must provide and a uniform `select`. Adding a strategy: one file, one line here.
 *
 * `select(samples, k, options, seed, epoch)` picks k of samples.n. Randomness comes from a seed derived from
 * (seed, epoch), so a selection is a pure function of its inputs and a resumed run repeats it; RS2 also needs the
 * epoch itself to walk its passes.
 */
import { createRng, type Rng } from '../../rng.js';
import { craig, type CraigOptions } from './craig.js';
import { gradMatch, type GradMatchOptions } from './grad-match.js';
import { gradNormImportance } from './grad-norm-importance.js';
import { kCenterGreedy, type KCenterGreedyOptions } from './kcenter-greedy.js';
import { lossImportance } from './loss-importance.js';
import { rhoLoss } from './rho-loss.js';
import { rs2, type Rs2Options } from './rs2.js';
import type { Picks, ScoredSamples } from './scored-samples.js';
import { derivedSeed } from './seeds.js';
import { submodular, type SubmodularOptions } from './submodular.js';
import { uncertainty, type UncertaintyOptions } from './uncertainty.js';

export type { CraigOptions } from './craig.js';
export type { GradMatchOptions } from './grad-match.js';
export type { Greedy } from './greedy.js';
export type { KCenterGreedyOptions } from './kcenter-greedy.js';
export type { FullGradApproximation } from './last-layer-gradients.js';
export type { Rs2Options } from './rs2.js';
export type { Picks, ScoredSamples } from './scored-samples.js';
export type { SubmodularFunctionName, SubmodularOptions } from './submodular.js';
export type { ScoreMetric, UncertaintyOptions } from './uncertainty.js';

/**
 * 'nothing': only n (no forward pass). 'outputs': output and labels. 'embeddings': embedding too. 'gradients':
 * output and labels, plus the embedding when fullGradApproximation is 'lastLayerWithEmbedding'.
 */
export type Needs = 'nothing' | 'outputs' | 'embeddings' | 'gradients';

export interface Downsampler<Options, Samples = ScoredSamples> {
  needs: Needs;
  select(samples: Samples, k: number, options: Options, seed: number, epoch: number): Picks;
}

const rngFor = (seed: number, epoch: number): Rng => createRng(derivedSeed(seed, epoch));

const entry = <Options, Samples = ScoredSamples>(needs: Needs, select: Downsampler<Options, Samples>['select']): Downsampler<Options, Samples> => ({ needs, select });

export const downsamplers = {
  loss: entry<object>('outputs', (samples, k, _options, seed, epoch) => lossImportance(samples, k, rngFor(seed, epoch))),
  gradNorm: entry<object>('outputs', (samples, k, _options, seed, epoch) => gradNormImportance(samples, k, rngFor(seed, epoch))),
  uncertainty: entry<UncertaintyOptions>('outputs', (samples, k, options) => uncertainty(samples, k, options)),
  kCenterGreedy: entry<KCenterGreedyOptions>('embeddings', (samples, k, options, seed, epoch) => kCenterGreedy(samples, k, options, rngFor(seed, epoch))),
  gradMatch: entry<GradMatchOptions>('gradients', (samples, k, options, seed, epoch) => gradMatch(samples, k, options, rngFor(seed, epoch))),
  craig: entry<CraigOptions>('gradients', (samples, k, options, seed, epoch) => craig(samples, k, options, rngFor(seed, epoch))),
  submodular: entry<SubmodularOptions>('gradients', (samples, k, options, seed, epoch) => submodular(samples, k, options, rngFor(seed, epoch))),
  rhoLoss: entry<object>('outputs', (samples, k) => rhoLoss(samples, k)),
  rs2: entry<Rs2Options, Pick<ScoredSamples, 'n'>>('nothing', (samples, k, options, seed, epoch) => rs2(samples.n, k, epoch, seed, options.withReplacement)),
};

export type StrategyName = keyof typeof downsamplers;
