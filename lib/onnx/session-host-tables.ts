/**
 * Tables held outside the graph (host tables; see layers/host-embedding.ts): the table row of each id, the rule and
 * scalars of their optimizer update, and what the row-sparse ("lazy") update means. The session worker gathers and
 * updates in WebAssembly (wasm-table.ts); test/helpers/table-update-reference.ts writes the same update as plain
 * float32 JS, the reference its tests check it against.
 *
 * The update touches only the rows the batch uses. A row's gradient is the sum of the gradients of its
 * occurrences, added in occurrence order (batch-major), as ScatterND(reduction='add') builds the dense table
 * gradient; each float32 operation of the in-graph optimizers (optimizers.ts) is rounded as there, so a touched
 * row gets exactly the value the in-graph update would give it from the same gradient and state. Rows not in
 * the batch are left alone, and so is their optimizer state ("lazy" updates, as TF LazyAdam and torch
 * SparseAdam). That equals the dense update only for plain SGD (no momentum, no weight decay); otherwise the
 * dense update would also move untouched rows (momentum carries on, m and v decay, weight decay shrinks them).
 * Weight decay (coupled for SGD and Adam, decoupled for AdamW) applies to touched rows only; Adam's bias
 * correction uses the global step, as a dense table's would.
 */
import type { HostIdSource } from './autodiff/tape.js';
import { SUBNORMAL_FLUSH } from './optimizers.js';

/** The optimizer of a worker-held table: the train step's optimizer with the table's (group's) weight decay. */
export type TableRule =
  | { name: 'sgd'; momentum: number; nesterov: boolean; weightDecay: number }
  | { name: 'adam' | 'adamw'; beta1: number; beta2: number; eps: number; weightDecay: number };

/** Marks a padding id in the row indices of a bag source. */
export const PADDING_ROW = -1;

/**
 * Table row of each id in `source.columns` of int64 ids [B, width] (row-major), [B, columns]: id mod vocab (the
 * result in [0, vocab), as ONNX Mod with fmod 0); in padding sources -1 is padding and other negative ids are refused.
 */
export function tableRows(ids: BigInt64Array, width: number, source: HostIdSource, vocab: number, table: string): Int32Array {
  const { columns, padding } = source;
  const batch = ids.length / width;
  const rows = new Int32Array(batch * columns.length);
  // Each id as its two 32-bit halves, id = hi·2³² + lo: (hi mod v)·(2³² mod v) + lo mod v stays below 2⁵³ for any
  // vocabulary up to 2²⁶ rows, so the row comes out of float arithmetic exactly, without a BigInt division per id.
  const halves = new Int32Array(ids.buffer, ids.byteOffset, ids.length * 2);
  const exact = vocab <= 2 ** 26;
  const wrap = 2 ** 32 % vocab;
  const v = BigInt(vocab);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < columns.length; j++) {
      const at = b * width + columns[j]!;
      const lo = halves[2 * at]! >>> 0;
      const hi = halves[2 * at + 1]!;
      if (padding && hi < 0) {
        if (hi !== -1 || lo !== 0xffffffff) throw new Error(`host table ${table}: id ${ids[at]} (sample ${b}, column ${columns[j]}) is negative and not padding (-1)`);
        rows[b * columns.length + j] = PADDING_ROW;
      } else if (exact) {
        const r = ((hi % vocab) * wrap + (lo % vocab)) % vocab;
        rows[b * columns.length + j] = r < 0 ? r + vocab : r;
      } else {
        const r = ids[at]! % v;
        rows[b * columns.length + j] = Number(r < 0n ? r + v : r);
      }
    }
  }
  return rows;
}

/**
 * Adam's float32 scalars for a step at float32 learning rate `lr` and 1-based `step`, as the graph computes them:
 * the bias corrections in float64, rounded once; `decay` 1 unless AdamW decays; `wd` the coupled (Adam) weight decay;
 * `flush` the constant that keeps subnormals out of the stored state (optimizers.ts).
 */
export function adamScalars(rule: Extract<TableRule, { name: 'adam' | 'adamw' }>, lr: number, step: number) {
  const f = Math.fround;
  const wd = f(rule.weightDecay);
  return {
    b1: f(rule.beta1), b2: f(rule.beta2), c1: f(1 - rule.beta1), c2: f(1 - rule.beta2), eps: f(rule.eps),
    stepSize: f(lr / (1 - rule.beta1 ** step)), invSqrtBc2: f(1 / Math.sqrt(1 - rule.beta2 ** step)),
    decay: rule.name === 'adamw' && wd ? f(1 - f(lr * wd)) : 1, wd: rule.name === 'adam' ? wd : 0, flush: f(SUBNORMAL_FLUSH),
  };
}
