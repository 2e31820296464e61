/**
 * Submodular downsampling (DeepCore's Submodular; Modyn's `Submodular`): maximize a submodular function of the
 * per-sample gradients' cosine similarities with a greedy optimizer. Weights 1.
 *
 * The samples are split into consecutive blocks of `selectionBatch`, each choosing its proportional share of k, so
 * a similarity matrix is only ever [block, block]. (Modyn's `selection_batch` only chunks the gain computation over
 * one matrix of all samples; blocks bound memory and time at the cost of never comparing samples across blocks.)
 */
import type { Rng } from '../../rng.js';
import { checkBudget } from './budget.js';
import { facilityLocation } from './facility-location.js';
import { graphCut } from './graph-cut.js';
import { greedyMaximize, type Greedy, type SubmodularFunction } from './greedy.js';
import { gradientSpace, type FullGradApproximation } from './last-layer-gradients.js';
import { logDeterminant } from './log-determinant.js';
import { balanceParts, blockParts, selectInParts } from './partitions.js';
import { checkScoredSamples, type Picks, type ScoredSamples } from './scored-samples.js';
import { cosineSimilarity, type Similarity } from './similarity.js';

export type SubmodularFunctionName = 'facilityLocation' | 'graphCut' | 'logDeterminant';

const functions: Record<SubmodularFunctionName, (s: Similarity) => SubmodularFunction<unknown>> = { facilityLocation, graphCut, logDeterminant };

export interface SubmodularOptions {
  submodularFunction: SubmodularFunctionName;
  greedy: Greedy;
  /** Samples per block. */
  selectionBatch: number;
  fullGradApproximation: FullGradApproximation;
  /** Each label gets its proportional share of k, split over that label's blocks. */
  balance: boolean;
}

export function submodular(samples: ScoredSamples, k: number, options: SubmodularOptions, rng: Rng): Picks {
  checkScoredSamples(samples);
  checkBudget(k, samples.n);
  const selectBlock = (block: ScoredSamples, kBlock: number): Picks => {
    const f = functions[options.submodularFunction](cosineSimilarity(gradientSpace(block, options.fullGradApproximation)));
    return { indexes: greedyMaximize(f, kBlock, options.greedy, rng), weights: new Float32Array(kBlock).fill(1) };
  };
  const parts = balanceParts(samples, options.balance);
  return selectInParts(samples, parts, k, (part, kPart) => selectInParts(part, blockParts(part.n, options.selectionBatch), kPart, selectBlock));
}
