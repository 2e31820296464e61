/**
 * Embedding lookups with in-graph tables. The table is one trainable parameter `<name>.weight` [vocab, dim];
 * its gradient is dense: a zero table with the output gradient rows added in by ScatterND(reduction='add'),
 * so repeated ids accumulate. Ids get no gradient.
 *
 * Ids must lie in [0, vocab) (hash upstream); ORT's Gather rejects out-of-range ids. In embeddingBag, -1 marks
 * padding. The whole table and its optimizer state cross the JS↔ORT boundary every step, so in-graph tables
 * are for small vocabularies; host-embedding.ts keeps tables out of the graph (all of DLRM's, and the text
 * classifier's over 1M values), and an export embeds them with these layers.
 */
import type { Tape } from '../autodiff/tape.js';
import { axes, reduceSum, unsqueeze } from '../ops.js';
import type { ParamSpec } from '../params.js';
import { DataType } from '../proto.js';
import { expectRank, withBatchOf } from './shapes.js';

export interface EmbeddingOptions { vocab: number; dim: number }
export interface EmbeddingBagOptions extends EmbeddingOptions { mode: 'sum' | 'mean' }

/**
 * The table parameter's spec. Initialized U(±sqrt(1/vocab)) like the DLRM reference (kaiming-uniform with
 * fanIn = 6·vocab gives exactly that bound).
 */
export function tableSpec(name: string, { vocab, dim }: EmbeddingOptions): ParamSpec {
  if (!Number.isInteger(vocab) || vocab < 1 || !Number.isInteger(dim) || dim < 1) {
    throw new Error(`embedding ${name}: vocab ${vocab} and dim ${dim} must be positive integers`);
  }
  return { name: `${name}.weight`, shape: [vocab, dim], fanIn: 6 * vocab, init: 'kaiming-uniform' };
}

function table(t: Tape, name: string, opts: EmbeddingOptions): string {
  return t.param(tableSpec(name, opts));
}

/** dTable = ScatterND(zeros [vocab, dim], ids[:, :, None], rows, reduction='add'); ids [B, F], rows [B, F, dim]. */
function scatterRows(t: Tape, ids: string, rows: string, { vocab, dim }: EmbeddingOptions): string {
  const { g } = t;
  const zeros = g.op('ConstantOfShape', [g.const('int64', [2], [vocab, dim])]);
  return g.op('ScatterND', [zeros, unsqueeze(g, ids, [2]), rows], { reduction: 'add' });
}

/** int64 ids [B, F] → [B, F, dim] = table[ids]. */
export function embedding(t: Tape, name: string, ids: string, opts: EmbeddingOptions): string {
  const { g } = t;
  const [fields] = expectRank(t, ids, 2, `embedding ${name}`) as [number];
  const weight = table(t, name, opts);
  const y = g.op('Gather', [weight, ids], { axis: 0 });
  t.record([weight], [y], ([dy]) => [scatterRows(t, ids, dy!, opts)]);
  return withBatchOf(t, y, ids, [fields, opts.dim]);
}

/**
 * int64 ids [B, L] with -1 padding → [B, dim]: the sum (or mean) of the rows of the non-padding ids, like
 * torch.nn.EmbeddingBag with padding_idx. Padding maps to row 0 and is masked out, so it adds nothing to the
 * output or to row 0's gradient. A sample with no ids gets zeros in both modes (the mean divides by max(n, 1)).
 */
export function embeddingBag(t: Tape, name: string, ids: string, opts: EmbeddingBagOptions): string {
  const { g } = t;
  expectRank(t, ids, 2, `embeddingBag ${name}`);
  checkBagMode(name, opts.mode);
  const weight = table(t, name, opts);
  const { valid, safeIds } = bagIds(t, ids);
  const rows = g.op('Gather', [weight, safeIds], { axis: 0 }); // [B, L, dim]
  t.record([weight], [rows], ([dRows]) => [scatterRows(t, safeIds, dRows!, opts)]);
  return poolBag(t, rows, valid, ids, opts);
}

export function checkBagMode(name: string, mode: EmbeddingBagOptions['mode']): void {
  if (mode !== 'sum' && mode !== 'mean') throw new Error(`embeddingBag ${name}: unknown mode ${String(mode)}`);
}

/** Bag ids [B, L] → `valid` (bool, not padding) and `safeIds` (padding mapped to row 0), shaped as `ids`. */
export function bagIds(t: Tape, ids: string): { valid: string; safeIds: string } {
  const { g } = t;
  const zero = g.const('int64', [], [0]);
  const valid = g.op('GreaterOrEqual', [ids, zero]);
  return { valid, safeIds: t.setShape(g.op('Where', [valid, ids, zero]), t.shape(ids)) };
}

/**
 * Gathered rows [B, L, dim] → [B, dim]: the sum (or mean) over the rows where `valid`; the rows' gradient is zero
 * at padding. `zeroAtPadding`: the rows are zeros there already (a worker-held table gathers them so), and the sum
 * needs no mask.
 */
export function poolBag(t: Tape, rows: string, valid: string, ids: string, opts: EmbeddingBagOptions, zeroAtPadding = false): string {
  const { g } = t;
  const mask = unsqueeze(g, g.op('Cast', [valid], { to: DataType.float32 }), [2]); // [B, L, 1]
  const sum = reduceSum(g, zeroAtPadding ? rows : g.op('Mul', [rows, mask]), [1], false);
  // [B, 1]: 1 / max(count, 1); a static constant of 1 in sum mode.
  const scale = opts.mode === 'mean'
    ? g.op('Reciprocal', [g.op('Max', [g.op('ReduceSum', [mask, axes(g, [1])], { keepdims: 0 }), g.const('float32', [], [1])])])
    : undefined;
  const y = scale ? g.op('Mul', [sum, scale]) : sum;
  t.record([rows], [y], ([dy]) => {
    const dSum = scale ? g.op('Mul', [dy!, scale]) : dy!;
    return [g.op('Mul', [unsqueeze(g, dSum, [1]), mask])]; // [B, L, dim], zero at padding
  });
  return withBatchOf(t, y, ids, [opts.dim]);
}
