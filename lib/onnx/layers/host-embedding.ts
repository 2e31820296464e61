/**
 * Embedding lookups whose table is held outside the graph, for tables too large to cross the JS↔ORT boundary
 * every step. The table is still the parameter `<name>.weight` [vocab, dim] of the model state, but the graph takes
 * the rows already gathered for the batch as input `<name>.rows` [B, n, dim] and the train step outputs their
 * gradient `<name>.rows__grad`; the session worker gathers before each step and applies a row-sparse update after
 * it (session-host-tables.ts). Where the ids come from is the model's `source`: the worker gathers by exactly the
 * ids the graph computes (hashed raw ids, or bag ids with -1 padding).
 *
 * On a tape that embeds weights (the servable export) these are the in-graph layers of embedding.ts, so an
 * exported model is a plain ONNX graph with the table as an initializer.
 */
import type { HostIdSource, Tape } from '../autodiff/tape.js';
import type { GraphBuilder } from '../graph.js';
import { reshape, unsqueeze } from '../ops.js';
import {
  bagIds, checkBagMode, embedding, embeddingBag, poolBag, tableSpec, type EmbeddingBagOptions, type EmbeddingOptions,
} from './embedding.js';
import { expectRank } from './shapes.js';

export interface HostEmbeddingOptions extends EmbeddingOptions { source: HostIdSource }
export interface HostEmbeddingBagOptions extends EmbeddingBagOptions { source: HostIdSource }

function checkSource(t: Tape, layer: string, ids: string, source: HostIdSource, padding: boolean): void {
  const [width] = expectRank(t, ids, 2, layer) as [number];
  if (source.columns.length !== width) throw new Error(`${layer}: ids have ${width} columns, the source names ${source.columns.length}`);
  if (source.padding !== padding) throw new Error(`${layer}: source.padding must be ${padding}`);
}

/** int64 ids [B, F] in [0, vocab) → [B, F, dim]: the rows input itself. */
export function hostEmbedding(t: Tape, name: string, ids: string, opts: HostEmbeddingOptions): string {
  if (t.embedsWeights) return embedding(t, name, ids, opts);
  checkSource(t, `hostEmbedding ${name}`, ids, opts.source, false);
  return t.hostTable(tableSpec(name, opts), `${name}.rows`, ids, opts.source);
}

/** As embeddingBag: int64 ids [B, L] with -1 padding → [B, dim]; the worker gathers zeros for padding. */
export function hostEmbeddingBag(t: Tape, name: string, ids: string, opts: HostEmbeddingBagOptions): string {
  if (t.embedsWeights) return embeddingBag(t, name, ids, opts);
  checkSource(t, `hostEmbeddingBag ${name}`, ids, opts.source, true);
  checkBagMode(name, opts.mode);
  const { valid, safeIds } = bagIds(t, ids);
  const rows = t.hostTable(tableSpec(name, opts), `${name}.rows`, safeIds, opts.source);
  return poolBag(t, rows, valid, ids, opts);
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
