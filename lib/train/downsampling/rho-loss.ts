/**
 * RHO-LOSS (Mindermann et al., 2022): the samples whose loss the model can still reduce most, the training loss
 * minus the irreducible loss that a model trained on held-out data has on them. Top-k of that difference; ties go
 * to the lower index; weights 1.
 */
import { checkBudget } from './budget.js';
import { perSampleLoss } from './per-sample-loss.js';
import { checkScoredSamples, type Picks, type ScoredSamples } from './scored-samples.js';

export function rhoLoss(samples: ScoredSamples, k: number): Picks {
  checkScoredSamples(samples);
  checkBudget(k, samples.n);
  const irreducible = samples.irreducibleOutput;
  if (!irreducible || irreducible.length !== samples.output.length) {
    throw new Error(`downsampling: rhoLoss needs the irreducible-loss model's outputs for all ${samples.n} samples`);
  }
  const reducible = perSampleLoss(samples);
  const floor = perSampleLoss({ ...samples, output: irreducible });
  for (let i = 0; i < samples.n; i++) {
    reducible[i]! -= floor[i]!;
    if (!Number.isFinite(reducible[i]!)) throw new Error(`downsampling: the reducible loss of sample ${i} is ${reducible[i]}`);
  }
  const order = Array.from({ length: samples.n }, (_, i) => i).sort((a, b) => reducible[b]! - reducible[a]! || a - b);
  return { indexes: Uint32Array.from(order.slice(0, k)), weights: new Float32Array(k).fill(1) };
}
