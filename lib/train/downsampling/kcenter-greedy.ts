/**
 * k-center greedy on the embeddings (Sener & Savarese's core-set; Modyn's `KcenterGreedy`): start from a seeded
 * random sample, then repeatedly add the sample farthest (Euclidean) from every chosen one. Weights 1.
 */
import type { Rng } from '../../rng.js';
import { checkBudget } from './budget.js';
import { balanceParts, selectInParts } from './partitions.js';
import { checkScoredSamples, type Picks, type ScoredSamples } from './scored-samples.js';

export interface KCenterGreedyOptions {
  /** Each label gets its proportional share of k, chosen among that label's samples. */
  balance: boolean;
}

/** Picks in the order chosen. */
export function kCenterGreedy(samples: ScoredSamples, k: number, options: KCenterGreedyOptions, rng: Rng): Picks {
  checkScoredSamples(samples);
  checkBudget(k, samples.n);
  if (samples.embeddingSize === 0) throw new Error('downsampling: kCenterGreedy needs embeddings (embeddingSize is 0)');
  const parts = balanceParts(samples, options.balance);
  return selectInParts(samples, parts, k, (part, kPart) => ({
    indexes: kCenters(part.embedding, part.embeddingSize, kPart, rng.int(part.n)),
    weights: new Float32Array(kPart).fill(1),
  }));
}

/**
 * The greedy itself, O(n·k·dim): a running minimum of the squared distance to the chosen set, updated with each
 * new center's distances only. Ties go to the lower index.
 */
export function kCenters(points: Float32Array, dim: number, k: number, start: number): Uint32Array {
  const n = points.length / dim;
  const nearest = new Float64Array(n).fill(Infinity);
  const centers = new Uint32Array(k);
  let next = start;
  for (let r = 0; r < k; r++) {
    centers[r] = next;
    if (r === k - 1) break;
    const c = next * dim;
    // Chosen samples sit at −1, below every distance, so they are never picked again.
    nearest[next] = -1;
    next = -1;
    for (let i = 0; i < n; i++) {
      if (nearest[i]! >= 0) {
        let d = 0;
        for (let e = 0, p = i * dim; e < dim; e++) d += (points[p + e]! - points[c + e]!) ** 2;
        if (d < nearest[i]!) nearest[i] = d;
      }
      if (next < 0 || nearest[i]! > nearest[next]!) next = i;
    }
  }
  return centers;
}
