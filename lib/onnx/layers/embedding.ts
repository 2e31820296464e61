/**
 * Embedding lookups with in-graph tables. The table is one trainable parameter `<name>.weight` [vocab, dim];
 * its gradient is dense: a zero table with the output gradient rows added in by ScatterND(reduction='add'),
 * so repeated ids accumulate. Ids get no gradient.
 *
 * Ids must lie in [0, vocab) (hash upstream); ORT's Gather rejects out-of-range ids. In embeddingBag, -1 marks
 * padding. The whole table and its optimizer state cross the JS↔ORT boundary every step, so in-graph tables
 * are for small vocabularies (a few million floats in all; see docs on large tables held in JS).
 */
import type { Tape } from '../autodiff/tape.js';
import { axes, reduceSum, unsqueeze } from '../ops.js';
import { DataType } from '../proto.js';
import { expectRank, withBatchOf } from './shapes.js';

export interface EmbeddingOptions { vocab: number; dim: number }
export interface EmbeddingBagOptions extends EmbeddingOptions { mode: 'sum' | 'mean' }

/**
 * The table parameter. Initialized U(±sqrt(1/vocab)) like the DLRM reference (kaiming-uniform with
 * fanIn = 6·vocab gives exactly that bound).
 */
function table(t: Tape, name: string, { vocab, dim }: EmbeddingOptions): string {
  if (!Number.isInteger(vocab) || vocab < 1 || !Number.isInteger(dim) || dim < 1) {
    throw new Error(`embedding ${name}: vocab ${vocab} and dim ${dim} must be positive integers`);
  }
  return t.param({ name: `${name}.weight`, shape: [vocab, dim], fanIn: 6 * vocab, init: 'kaiming-uniform' });
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
  if (opts.mode !== 'sum' && opts.mode !== 'mean') throw new Error(`embeddingBag ${name}: unknown mode ${String(opts.mode)}`);
  const weight = table(t, name, opts);
  const zero = g.const('int64', [], [0]);
  const valid = g.op('GreaterOrEqual', [ids, zero]);
  const safeIds = g.op('Where', [valid, ids, zero]);
  const mask = unsqueeze(g, g.op('Cast', [valid], { to: DataType.float32 }), [2]); // [B, L, 1]
  const rows = g.op('Mul', [g.op('Gather', [weight, safeIds], { axis: 0 }), mask]); // [B, L, dim]
  const sum = reduceSum(g, rows, [1], false);
  // [B, 1]: 1 / max(count, 1); a static constant of 1 in sum mode.
  const scale = opts.mode === 'mean'
    ? g.op('Reciprocal', [g.op('Max', [g.op('ReduceSum', [mask, axes(g, [1])], { keepdims: 0 }), g.const('float32', [], [1])])])
    : undefined;
  const y = scale ? g.op('Mul', [sum, scale]) : sum;
  t.record([weight], [y], ([dy]) => {
    const dSum = scale ? g.op('Mul', [dy!, scale]) : dy!;
    const dRows = g.op('Mul', [unsqueeze(g, dSum, [1]), mask]); // [B, L, dim], zero at padding
    return [scatterRows(t, safeIds, dRows, opts)];
  });
  return withBatchOf(t, y, ids, [opts.dim]);
}
