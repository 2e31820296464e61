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
 * The tables live in the graph, so the whole of every table and its optimizer state crosses the JS↔ORT boundary
 * on every step and the dense gradient touches every row. That is fine up to about MAX_IN_GRAPH_EMBEDDING_FLOATS
 * table values in total (measured: V·K = 16M floats costs 170–310 ms a step); larger tables need the
 * JS-held-table design (gather rows in JS, feed them in, apply a sparse update in JS), a later step.
 */
import { concat } from '../layers/concat.js';
import { relu } from '../layers/activations.js';
import { dotInteraction, interactionPairs } from '../layers/dot-interaction.js';
import { embedding } from '../layers/embedding.js';
import { linear } from '../layers/linear.js';
import type { ModelDefinition } from './model.js';

/** Upper bound on Σ vocabSizes[f] · embeddingDim accepted for in-graph tables. */
export const MAX_IN_GRAPH_EMBEDDING_FLOATS = 2_000_000;

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
  if (tableFloats > MAX_IN_GRAPH_EMBEDDING_FLOATS) {
    throw new Error(`dlrm: embedding tables hold ${tableFloats} values; in-graph tables are limited to ${MAX_IN_GRAPH_EMBEDDING_FLOATS}`);
  }
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
        return embedding(t, `emb.${f}`, ids, { vocab: vocabSizes[f]!, dim: embeddingDim }); // [B, 1, K]
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
