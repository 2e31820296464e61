/**
 * Embedding lookups whose table is held outside the graph, in the session worker, so that neither the table nor its
 * optimizer state crosses the JS↔ORT boundary each step (ORT copies every output into a fresh buffer: 6 ms a step
 * for DLRM's 1.7M table values with Adam's m and v). The table is still the parameter `<name>.weight` [vocab, dim]
 * of the model state, but the graph takes the rows already gathered for the batch as input `<name>.rows`
 * [B, n, dim] and the train step outputs their gradient `<name>.rows__grad`; the session worker gathers before each
 * step and applies the optimizer after it (wasm-table.ts), to every row (`update: 'dense'`, as the graph would) or
 * to the touched rows only (`'lazy'`). Where the ids come from is the model's `source`: the worker gathers by
 * exactly the ids the graph computes (hashed raw ids, or bag ids with -1 padding).
 *
 * Where the tape looks tables up in the graph (ParamMode) these are the in-graph layers of embedding.ts: an exported
 * model is a plain ONNX graph with the table as an initializer, and batch-then-sample's forward takes the table whole.
 */
import type { HostIdSource, Tape, TableUpdateMode } from '../autodiff/tape.js';
import type { GraphBuilder } from '../graph.js';
import { reshape, unsqueeze } from '../ops.js';
import {
  bagIds, checkBagMode, embedding, embeddingBag, poolBag, tableSpec, type EmbeddingBagOptions, type EmbeddingOptions,
} from './embedding.js';
import { expectRank } from './shapes.js';

export interface HostEmbeddingOptions extends EmbeddingOptions { source: HostIdSource; update: TableUpdateMode }
export interface HostEmbeddingBagOptions extends EmbeddingBagOptions { source: HostIdSource; update: TableUpdateMode }

function checkSource(t: Tape, layer: string, ids: string, source: HostIdSource, padding: boolean): void {
  const [width] = expectRank(t, ids, 2, layer) as [number];
  if (source.columns.length !== width) throw new Error(`${layer}: ids have ${width} columns, the source names ${source.columns.length}`);
  if (source.padding !== padding) throw new Error(`${layer}: source.padding must be ${padding}`);
}

/** int64 ids [B, F] in [0, vocab) → [B, F, dim]: the rows input itself. */
export function hostEmbedding(t: Tape, name: string, ids: string, opts: HostEmbeddingOptions): string {
  if (t.gathersInGraph) return embedding(t, name, ids, opts);
  checkSource(t, `hostEmbedding ${name}`, ids, opts.source, false);
  return t.hostTable(tableSpec(name, opts), `${name}.rows`, ids, opts.source, opts.update);
}

/** As embeddingBag: int64 ids [B, L] with -1 padding → [B, dim]; the worker gathers zeros for padding. */
export function hostEmbeddingBag(t: Tape, name: string, ids: string, opts: HostEmbeddingBagOptions): string {
  if (t.gathersInGraph) return embeddingBag(t, name, ids, opts);
  checkSource(t, `hostEmbeddingBag ${name}`, ids, opts.source, true);
  checkBagMode(name, opts.mode);
  const { valid, safeIds } = bagIds(t, ids);
  const rows = t.hostTable(tableSpec(name, opts), `${name}.rows`, safeIds, opts.source, opts.update);
  return poolBag(t, rows, valid, ids, opts, true);
}

/**
 * Σ‖row gradient‖² of the table gradient the rows' gradient `dRows` [B, n, dim] adds up to: repeated ids are summed
 * first (Unique + ScatterND add), as the dense table gradient would hold them. For global-norm clipping.
 */
export function tableGradSquaredNorm(g: GraphBuilder, ids: string, dRows: string, dim: number): string {
  const [unique, , inverse] = g.opN('Unique', [reshape(g, ids, [-1])], 4, { sorted: 1 });
  const zeros = g.op('ConstantOfShape', [g.op('Concat', [g.op('Shape', [unique!]), g.const('int64', [1], [dim])], { axis: 0 })]);
  const perRow = g.op('ScatterND', [zeros, unsqueeze(g, inverse!, [1]), reshape(g, dRows, [-1, dim])], { reduction: 'add' });
  return g.op('ReduceSumSquare', [perRow], { keepdims: 0 });
}
