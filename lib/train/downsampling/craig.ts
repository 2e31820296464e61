/**
 * CRAIG (Mirzasoleiman et al.; Modyn's `Craig`): facility location over per-sample gradients with similarity
 * max distance − Euclidean distance, so the picks are medoids of the gradient space; each pick's weight is the size
 * of its cluster (the samples whose most similar pick it is), so the weights of a block sum to its size. Modyn
 * weighs 1 + cluster size, which sums to n + k.
 *
 * Blocks of `selectionBatch` consecutive samples each choose their proportional share of k, as in submodular.ts.
 */
import type { Rng } from '../../rng.js';
import { checkBudget } from './budget.js';
import { facilityLocation } from './facility-location.js';
import { greedyMaximize, type Greedy } from './greedy.js';
import { gradientSpace, type FullGradApproximation } from './last-layer-gradients.js';
import { balanceParts, blockParts, selectInParts } from './partitions.js';
import { checkScoredSamples, type Picks, type ScoredSamples } from './scored-samples.js';
import { distanceSimilarity, type Similarity } from './similarity.js';

export interface CraigOptions {
  greedy: Greedy;
  /** Samples per block. */
  selectionBatch: number;
  fullGradApproximation: FullGradApproximation;
  /** Each label gets its proportional share of k, split over that label's blocks. */
  balance: boolean;
}

export function craig(samples: ScoredSamples, k: number, options: CraigOptions, rng: Rng): Picks {
  checkScoredSamples(samples);
  checkBudget(k, samples.n);
  const selectBlock = (block: ScoredSamples, kBlock: number): Picks => {
    const similarity = distanceSimilarity(gradientSpace(block, options.fullGradApproximation));
    const indexes = greedyMaximize(facilityLocation(similarity), kBlock, options.greedy, rng);
    return { indexes, weights: clusterSizes(similarity, indexes) };
  };
  const parts = balanceParts(samples, options.balance);
  return selectInParts(samples, parts, k, (part, kPart) => selectInParts(part, blockParts(part.n, options.selectionBatch), kPart, selectBlock));
}

/**
 * Per pick, how many samples are most similar to it. A pick counts itself (even if a duplicate of an earlier pick
 * exists); any other sample goes to its most similar pick, ties to the earlier pick.
 */
export function clusterSizes({ values, size }: Similarity, picks: Uint32Array): Float32Array {
  const sizes = new Float32Array(picks.length);
  const pickOf = new Int32Array(size).fill(-1);
  picks.forEach((p, r) => (pickOf[p] = r));
  for (let i = 0; i < size; i++) {
    let owner = pickOf[i]!;
    if (owner < 0) {
      owner = 0;
      for (let r = 1; r < picks.length; r++) if (values[i * size + picks[r]!]! > values[i * size + picks[owner]!]!) owner = r;
    }
    sizes[owner]!++;
  }
  return sizes;
}
