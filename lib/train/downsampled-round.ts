/**
 * One scoring round of sample-then-batch downsampling: the trigger's training set is scored with the model as it
 * is at the round's start, `ratio` of each chunk is picked by the downsampler, and the picks with their weights
 * are written as the round's samples (downsampled_samples), which the round's epochs then train on.
 */
import type pg from 'pg';
import type { Downsampler } from '../../policies/selection/downsampling-schema.js';
import type { Dataset } from '../data/datasets.js';
import { writeDownsampledRound } from '../data/training-set/downsampled.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import type { SessionHost } from '../onnx/session-host.js';
import { downsamplers } from './downsampling/index.js';
import { mergedPicks } from './merged-picks.js';
import { selectWith } from './select-with.js';
import type { ModelState } from './model-state.js';
import { scoringPass } from './scoring-pass.js';

/**
 * Samples one selection sees: strategies on per-sample scores sort or sample in O(n log n) and take large chunks;
 * those on embeddings or gradients compare samples pairwise or grow a least-squares fit, so their chunks are small.
 */
const CHUNK = { nothing: 65_536, outputs: 65_536, embeddings: 2_048, gradients: 2_048 } as const;

export interface DownsampledRound {
  /** Distinct samples the round trains on. */
  size: number;
  /** Samples that went through the scoring forward pass. */
  scored: number;
}

export async function downsampleRound(
  pool: pg.Pool,
  dataset: Dataset,
  args: {
    pipelineId: number; triggerId: number; round: number; downsampler: Downsampler; model: ModelDefinition; state: ModelState;
    seed: number; batchSize: number; host: SessionHost; signal?: AbortSignal;
  },
): Promise<DownsampledRound> {
  const { needs } = downsamplers[args.downsampler.strategy];
  const keys: Float64Array[] = [];
  const weights: Float32Array[] = [];
  let scored = 0;
  for await (const chunk of scoringPass(pool, dataset, { ...args, needs, chunkSize: CHUNK[needs] })) {
    const { n } = chunk.samples;
    if (needs !== 'nothing') scored += n;
    const k = Math.max(1, Math.min(n, Math.round(n * args.downsampler.ratio)));
    const picked = mergedPicks(chunk.keys, selectWith(args.downsampler, chunk.samples, k, args.seed, args.round));
    keys.push(picked.keys);
    weights.push(picked.weights);
  }
  const all = { keys: concat(keys, Float64Array), weights: concat(weights, Float32Array) };
  await writeDownsampledRound(pool, { pipelineId: args.pipelineId, triggerId: args.triggerId, round: args.round, ...all });
  return { size: all.keys.length, scored };
}

function concat<T extends Float64Array | Float32Array>(parts: T[], Type: new (n: number) => T): T {
  const out = new Type(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
