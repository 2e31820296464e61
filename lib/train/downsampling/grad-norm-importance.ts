/** GradNorm downsampling: importance sampling ∝ the norm of the loss gradient w.r.t. the logits (Modyn's `GradNorm`). */
import type { Rng } from '../../rng.js';
import { importanceSample } from './importance-sampling.js';
import { gradientNorms } from './last-layer-gradients.js';
import { checkScoredSamples, type Picks, type ScoredSamples } from './scored-samples.js';

export function gradNormImportance(samples: ScoredSamples, k: number, rng: Rng): Picks {
  checkScoredSamples(samples);
  return importanceSample(gradientNorms(samples), k, rng, 'gradient norm');
}
