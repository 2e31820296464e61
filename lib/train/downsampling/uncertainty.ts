/**
 * Uncertainty downsampling (Coleman et al., "Selection via Proxy"; Modyn's `Uncertainty`): the k samples the model
 * is least sure about, weights 1. A bce-logits model's probabilities are [1 − σ(z), σ(z)].
 */
import { checkBudget } from './budget.js';
import { balanceParts, selectInParts } from './partitions.js';
import { checkScoredSamples, type Picks, type ScoredSamples } from './scored-samples.js';
import { sigmoid, softmaxInto } from './softmax.js';

/**
 * leastConfidence: 1 − max p. entropy: −Σ p log p. margin: the gap between the two largest p, smaller = more
 * uncertain. Modyn's LeastConfidence ranks by the largest raw logit instead; this is the textbook definition.
 */
export type ScoreMetric = 'leastConfidence' | 'entropy' | 'margin';

export interface UncertaintyOptions {
  scoreMetric: ScoreMetric;
  /** Each label gets its proportional share of k. */
  balance: boolean;
}

/** Picks, most uncertain first; ties go to the lower index. */
export function uncertainty(samples: ScoredSamples, k: number, options: UncertaintyOptions): Picks {
  checkScoredSamples(samples);
  checkBudget(k, samples.n);
  if (samples.loss === 'mse') throw new Error('downsampling: uncertainty needs class probabilities, not a regression (loss mse)');
  const parts = balanceParts(samples, options.balance);
  return selectInParts(samples, parts, k, (part, kPart) => mostUncertain(uncertaintyScores(part, options.scoreMetric), kPart));
}

/** Higher = more uncertain. */
export function uncertaintyScores(s: ScoredSamples, metric: ScoreMetric): Float64Array {
  const width = s.loss === 'softmax-ce' ? s.classes : 2;
  const p = new Float64Array(width);
  const scores = new Float64Array(s.n);
  for (let i = 0; i < s.n; i++) {
    if (s.loss === 'softmax-ce') softmaxInto(s.output, i * width, width, p);
    else {
      p[1] = sigmoid(s.output[i]!);
      p[0] = 1 - p[1];
    }
    scores[i] = metric === 'leastConfidence' ? 1 - Math.max(...p) : metric === 'entropy' ? entropy(p) : -marginOf(p);
  }
  return scores;
}

function entropy(p: Float64Array): number {
  let h = 0;
  for (const q of p) if (q > 0) h -= q * Math.log(q);
  return h;
}

function marginOf(p: Float64Array): number {
  // Probabilities are ≥ 0, so starting both at 0 also gives a one-class model the full margin 1.
  let first = 0;
  let second = 0;
  for (const q of p) {
    if (q > first) [first, second] = [q, first];
    else if (q > second) second = q;
  }
  return first - second;
}

function mostUncertain(scores: Float64Array, k: number): Picks {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  return { indexes: Uint32Array.from(order.slice(0, k)), weights: new Float32Array(k).fill(1) };
}
