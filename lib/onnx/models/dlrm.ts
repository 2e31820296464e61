/**
 * DLRM (Naumov et al. 2019) for click prediction: a bottom MLP over the dense features, one embedding table per
 * sparse feature, the pairwise dot interaction of the bottom output with the embeddings, and a top MLP ending in
 * one logit (bce-logits). Layer names: bottom.fc1.., emb.<feature>.weight, top.fc1.. (the last is the head).
 * Every layer of the bottom MLP is followed by ReLU, as in the reference; its last width must equal embeddingDim.
 *
 * Inputs: `dense` float32 [B, denseFeatures]; `sparse` int64 [B, sparseFeatures] of raw ids (any int64, e.g. raw
 * Criteo ids): the graph hashes them itself, sparse[:, f] mod vocabSizes[f] (ONNX Mod with fmod=0, whose result
 * takes the divisor's sign, so negative ids land in [0, vocab) too; ids already in range are unchanged). The
 * embedding is the interaction vector.
 *
 * Every table is held in the training worker (layers/host-embedding.ts): the graph takes the rows the worker gathers
 * for the batch, as input `emb.<f>.rows` [B, 1, K], and outputs their gradient; the table keeps its name
 * `emb.<f>.weight` in the model state, and the export embeds it. A table in the graph would cross the JS↔ORT
 * boundary with its optimizer state every step (ORT copies each output into a fresh buffer), and ONNX has no fused
 * optimizer, so its dense Adam would take 13 elementwise nodes per table. The worker updates a table of at most
 * LAZY_TABLE_MIN_FLOATS values densely, every row as the in-graph update would (bit for bit), in one SIMD pass
 * (wasm-table.ts); a larger table only in the rows the batch touches (lazily: a dense pass reads and writes the
 * whole table and its state every step), and so are the largest others while the densely updated tables would hold
 * more than MAX_DENSE_TABLE_FLOATS values in all.
 */
import { concat } from '../layers/concat.js';
import { relu } from '../layers/activations.js';
import { dotInteraction, interactionPairs } from '../layers/dot-interaction.js';
import { hostEmbedding } from '../layers/host-embedding.js';
import { linear } from '../layers/linear.js';
import type { ModelDefinition } from './model.js';

/** A table of more values (vocab · dim) than this is updated lazily. */
export const LAZY_TABLE_MIN_FLOATS = 1_000_000;

/** Upper bound on the values of all densely updated tables together; beyond it the largest are updated lazily. */
export const MAX_DENSE_TABLE_FLOATS = 2_000_000;

/**
 * Upper bound on Σ vocabSizes[f] · embeddingDim: 1 GiB of float32 tables, up to 3 GiB with Adam's state (and a
 * transient copy each when the trainer hands the state to its worker and takes it back), and an export well under
 * protobuf's 2 GiB limit.
 */
export const MAX_EMBEDDING_FLOATS = 2 ** 28;

/**
 * Which features' tables are updated lazily: those over LAZY_TABLE_MIN_FLOATS, then the largest of the rest (the
 * first of equal ones) until the densely updated tables hold at most MAX_DENSE_TABLE_FLOATS values.
 */
export function lazyTableFeatures(vocabSizes: number[], embeddingDim: number): boolean[] {
  const sizes = vocabSizes.map((v) => v * embeddingDim);
  const lazy = sizes.map((n) => n > LAZY_TABLE_MIN_FLOATS);
  let dense = sizes.reduce((a, n, f) => a + (lazy[f] ? 0 : n), 0);
  while (dense > MAX_DENSE_TABLE_FLOATS) {
    const largest = sizes.reduce((best, n, f) => (!lazy[f] && (best < 0 || n > sizes[best]!) ? f : best), -1);
    lazy[largest] = true;
    dense -= sizes[largest]!;
  }
  return lazy;
}

export interface DlrmConfig {
  denseFeatures: number;
  sparseFeatures: number;
  /** Rows of each feature's table (hashed vocabulary), one per sparse feature. */
  vocabSizes: number[];
  embeddingDim: number;
  /** Bottom MLP widths; the last must equal embeddingDim. */
  bottom: number[];
  /** Top MLP hidden widths; a Linear to the single logit follows. */
  top: number[];
}

export function dlrmModel(cfg: DlrmConfig): ModelDefinition {
  const { denseFeatures, sparseFeatures, vocabSizes, embeddingDim, bottom, top } = cfg;
  if (vocabSizes.length !== sparseFeatures) throw new Error(`dlrm: ${vocabSizes.length} vocabSizes for ${sparseFeatures} sparse features`);
  if (sparseFeatures < 1) throw new Error('dlrm: needs at least one sparse feature');
  if (bottom.length === 0 || bottom.at(-1) !== embeddingDim) {
    throw new Error(`dlrm: the bottom MLP [${bottom}] must end in embeddingDim ${embeddingDim}`);
  }
  const tableFloats = vocabSizes.reduce((a, v) => a + v, 0) * embeddingDim;
  if (tableFloats > MAX_EMBEDDING_FLOATS) {
    throw new Error(`dlrm: embedding tables hold ${tableFloats} values; at most ${MAX_EMBEDDING_FLOATS} fit in memory with their optimizer state`);
  }
  const lazy = lazyTableFeatures(vocabSizes, embeddingDim);
  const embeddingSize = embeddingDim + interactionPairs(sparseFeatures + 1);
  return {
    architecture: 'dlrm',
    inputs: [
      { name: 'dense', dtype: 'float32', shape: ['B', denseFeatures] },
      { name: 'sparse', dtype: 'int64', shape: ['B', sparseFeatures] },
    ],
    loss: 'bce-logits',
    outputSize: 1,
    forward(t, { dense, sparse }) {
      let h = dense!;
      bottom.forEach((width, i) => { h = relu(t, linear(t, `bottom.fc${i + 1}`, h, width)); });
      // Raw ids → table rows: id mod vocab per feature (broadcast over the batch). Ids carry no gradient, so
      // neither the Mod nor the split needs a tape entry.
      const hashed = t.setShape(t.g.op('Mod', [sparse!, t.g.const('int64', [sparseFeatures], vocabSizes)], { fmod: 0 }), t.shape(sparse!));
      // One id column per feature.
      const columns = sparseFeatures === 1 ? [hashed]
        : t.g.opN('Split', [hashed, t.g.const('int64', [sparseFeatures], new Array<number>(sparseFeatures).fill(1))], sparseFeatures, { axis: 1 });
      const embs = columns.map((ids, f) => hostEmbedding(t, `emb.${f}`, t.setShape(ids, [t.shape(sparse!)[0]!, 1]), { // [B, 1, K]
        vocab: vocabSizes[f]!, dim: embeddingDim, source: { input: 'sparse', columns: [f], padding: false }, update: lazy[f] ? 'lazy' : 'dense',
      }));
      const stacked = embs.length === 1 ? embs[0]! : concat(t, embs, 1); // [B, F, K]
      const interaction = dotInteraction(t, h, stacked);
      let z = interaction;
      top.forEach((width, i) => { z = relu(t, linear(t, `top.fc${i + 1}`, z, width)); });
      const output = linear(t, `top.fc${top.length + 1}`, z, 1);
      return { output, embedding: interaction, embeddingSize };
    },
  };
}
