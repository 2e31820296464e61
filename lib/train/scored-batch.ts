import type { Batch } from '../data/batch.js';
import type { LossKind } from '../onnx/losses.js';
import type { ForwardOutputs } from './batch-selection.js';
import type { ScoredSamples } from './downsampling/index.js';

/** What a downsampler sees of a batch: its targets and a forward pass's outputs and embeddings. */
export function scoredBatch(batch: Batch, forward: ForwardOutputs, loss: LossKind): ScoredSamples {
  return {
    n: batch.size, output: forward.output, classes: forward.outputSize, loss, labels: batch.y,
    embedding: forward.embedding, embeddingSize: forward.embeddingSize,
  };
}
