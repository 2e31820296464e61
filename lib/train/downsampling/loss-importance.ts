/** Loss downsampling: importance sampling ∝ per-sample loss (Katharopoulos & Fleuret's upper bound, as Modyn's `Loss`). */
import type { Rng } from '../../rng.js';
import { importanceSample } from './importance-sampling.js';
import { perSampleLoss } from './per-sample-loss.js';
import { checkScoredSamples, type Picks, type ScoredSamples } from './scored-samples.js';

export function lossImportance(samples: ScoredSamples, k: number, rng: Rng): Picks {
  checkScoredSamples(samples);
  return importanceSample(perSampleLoss(samples), k, rng, 'loss');
}
