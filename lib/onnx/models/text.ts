/**
 * Bag-of-embeddings text classifier (fastText-style): input `tokens` int64 [B, maxTokens] holding raw token ids
 * (any non-negative int, e.g. a text dataset's 31-bit token hashes), -1 for padding → in the graph, id mod vocab
 * (padding stays -1) → EmbeddingBag (mean over the non-padding tokens) → MLP (Linear → ReLU per
 * hidden layer) → Linear to numClasses, softmax-ce. Layer names: embedding.weight, fc1..fcN. The embedding
 * output is the bag vector [B, dim]. A sample with only padding gets the zero bag vector.
 *
 * A table of more than LAZY_TABLE_MIN_FLOATS values is held in the training worker's memory with a row-sparse
 * update (layers/host-embedding.ts), as DLRM's large tables are; smaller ones live in the graph. At most
 * MAX_EMBEDDING_FLOATS values.
 */
import { relu } from '../layers/activations.js';
import { embeddingBag } from '../layers/embedding.js';
import { hostEmbeddingBag } from '../layers/host-embedding.js';
import { linear } from '../layers/linear.js';
import { LAZY_TABLE_MIN_FLOATS, MAX_EMBEDDING_FLOATS } from './dlrm.js';
import type { ModelDefinition } from './model.js';

export interface TextClassifierConfig {
  vocab: number;
  dim: number;
  maxTokens: number;
  numClasses: number;
  /** Hidden widths between the bag vector and the head; default none (a linear head on the bag). */
  hidden?: number[];
}

export function textClassifierModel(cfg: TextClassifierConfig): ModelDefinition {
  const { vocab, dim, maxTokens, numClasses, hidden = [] } = cfg;
  if (vocab * dim > MAX_EMBEDDING_FLOATS) {
    throw new Error(`textClassifier: a ${vocab}×${dim} table exceeds the limit of ${MAX_EMBEDDING_FLOATS} values`);
  }
  const hosted = vocab * dim > LAZY_TABLE_MIN_FLOATS;
  return {
    architecture: 'text-classifier',
    inputs: [{ name: 'tokens', dtype: 'int64', shape: ['B', maxTokens] }],
    loss: 'softmax-ce',
    outputSize: numClasses,
    forward(t, { tokens }) {
      // Ids carry no gradient, so the hashing needs no tape entry.
      const { g } = t;
      const valid = g.op('GreaterOrEqual', [tokens!, g.const('int64', [], [0])]);
      const rows = g.op('Where', [valid, g.op('Mod', [tokens!, g.const('int64', [], [vocab])], { fmod: 0 }), g.const('int64', [], [-1])]);
      const ids = t.setShape(rows, t.shape(tokens!));
      const table = { vocab, dim, mode: 'mean' as const };
      const bag = hosted
        ? hostEmbeddingBag(t, 'embedding', ids, { ...table, source: { input: 'tokens', columns: Array.from({ length: maxTokens }, (_, i) => i), padding: true }, update: 'lazy' })
        : embeddingBag(t, 'embedding', ids, table);
      let h = bag;
      hidden.forEach((width, i) => { h = relu(t, linear(t, `fc${i + 1}`, h, width)); });
      const output = linear(t, `fc${hidden.length + 1}`, h, numClasses);
      return { output, embedding: bag, embeddingSize: dim };
    },
  };
}
