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
 * A table in the graph crosses the JS↔ORT boundary with its optimizer state on every step and its dense gradient
 * touches every row (measured: V·K = 16M floats costs 170–310 ms a step), so only small tables stay there: a table
 * of more than HOST_TABLE_MIN_FLOATS values is held in JS memory instead (layers/host-embedding.ts: the worker
 * gathers its rows and updates the touched rows only, lazily), and so are the largest others while the in-graph
 * tables would hold more than MAX_IN_GRAPH_EMBEDDING_FLOATS in all. The rows input of host table f is
 * `emb.<f>.rows` [B, 1, K]; the table keeps its name `emb.<f>.weight` in the model state, and the export embeds it.
 */
import { concat } from '../layers/concat.js';
import { relu } from '../layers/activations.js';
import { dotInteraction, interactionPairs } from '../layers/dot-interaction.js';
import { embedding } from '../layers/embedding.js';
import { hostEmbedding } from '../layers/host-embedding.js';
import { linear } from '../layers/linear.js';
import type { ModelDefinition } from './model.js';

/** A table of more values (vocab · dim) than this is held in JS memory. */
export const HOST_TABLE_MIN_FLOATS = 1_000_000;

/** Upper bound on the values of all in-graph tables together; beyond it the largest move to JS memory. */
export const MAX_IN_GRAPH_EMBEDDING_FLOATS = 2_000_000;

/**
 * Upper bound on Σ vocabSizes[f] · embeddingDim: 1 GiB of float32 tables, up to 3 GiB with Adam's state (and a
 * transient copy each when the trainer hands the state to its worker and takes it back), and an export well under
 * protobuf's 2 GiB limit.
 */
export const MAX_EMBEDDING_FLOATS = 2 ** 28;

/**
 * Which features' tables are held in JS: those over HOST_TABLE_MIN_FLOATS, then the largest of the rest (the
 * first of equal ones) until the in-graph tables hold at most MAX_IN_GRAPH_EMBEDDING_FLOATS values.
 */
export function hostTableFeatures(vocabSizes: number[], embeddingDim: number): boolean[] {
  const sizes = vocabSizes.map((v) => v * embeddingDim);
  const hosted = sizes.map((n) => n > HOST_TABLE_MIN_FLOATS);
  let inGraph = sizes.reduce((a, n, f) => a + (hosted[f] ? 0 : n), 0);
  while (inGraph > MAX_IN_GRAPH_EMBEDDING_FLOATS) {
    const largest = sizes.reduce((best, n, f) => (!hosted[f] && (best < 0 || n > sizes[best]!) ? f : best), -1);
    hosted[largest] = true;
    inGraph -= sizes[largest]!;
  }
  return hosted;
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
  const hosted = hostTableFeatures(vocabSizes, embeddingDim);
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
      const embs = columns.map((ids, f) => {
        t.setShape(ids, [t.shape(sparse!)[0]!, 1]);
        const table = { vocab: vocabSizes[f]!, dim: embeddingDim };
        return hosted[f] // [B, 1, K]
          ? hostEmbedding(t, `emb.${f}`, ids, { ...table, source: { input: 'sparse', columns: [f], padding: false } })
          : embedding(t, `emb.${f}`, ids, table);
      });
      const stacked = embs.length === 1 ? embs[0]! : concat(t, embs, 1); // [B, F, K]
      const interaction = dotInteraction(t, h, stacked);
      let z = interaction;
      top.forEach((width, i) => { z = relu(t, linear(t, `top.fc${i + 1}`, z, width)); });
      const output = linear(t, `top.fc${top.length + 1}`, z, 1);
      return { output, embedding: interaction, embeddingSize };
    },
  };
}
