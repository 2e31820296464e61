/**
 * Tables held outside the graph (host tables; see layers/host-embedding.ts): the table row of each id, and the
 * gather and row-sparse ("lazy") optimizer update written as plain float32 JS. The session worker runs the gather
 * and the update in WebAssembly (wasm-table.ts), bit for bit as here; this JS version is the reference its tests
 * check it against.
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

/** The rows of `table` [vocab, dim] at `rows`, [rows.length, dim]; zeros for padding. */
export function gatherRows(table: Float32Array, dim: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * dim);
  // Plain loops: a subarray per row costs more than copying its few values.
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r === PADDING_ROW) continue;
    for (let k = 0, from = r * dim, to = i * dim; k < dim; k++) out[to + k] = table[from + k]!;
  }
  return out;
}

/** Slot scratch of each table, all zeros between updates; it lives as long as its table. */
const slotTables = new WeakMap<Float32Array, Int32Array>();

function slotTable(table: Float32Array, dim: number): Int32Array {
  let slots = slotTables.get(table);
  if (!slots) {
    slots = new Int32Array(table.length / dim);
    slotTables.set(table, slots);
  }
  return slots;
}

/**
 * Applies one step of `rule` to the rows of `table` [vocab, dim] (and `states`: the momentum buffer for SGD, m and v
 * for Adam) that `rows` names, `grad` [rows.length, dim] holding the gradient of each gathered row. `lr` and
 * `step` (1-based) are the step's float32 feeds.
 */
export function sparseUpdate(
  table: Float32Array, states: Float32Array[], dim: number, rows: Int32Array, grad: Float32Array, rule: TableRule, lr: number, step: number,
): void {
  // Each row's slot (plus one) in `summed`, in a table-sized scratch kept with the table and cleared after use:
  // a lookup per occurrence without a Map.
  const slotOf = slotTable(table, dim);
  const order: number[] = [];
  const summed = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r === PADDING_ROW) continue;
    let slot = slotOf[r]! - 1;
    if (slot < 0) {
      slot = order.length;
      slotOf[r] = slot + 1;
      order.push(r);
    }
    for (let k = 0, at = slot * dim, from = i * dim; k < dim; k++) summed[at + k]! += grad[from + k]!;
  }
  // Rows are independent: visiting them in table order only makes the walk over the table and its state sequential.
  const visit = Int32Array.from(order).sort();
  const slots = visit.map((r) => slotOf[r]! - 1);
  for (const r of order) slotOf[r] = 0;
  const f = Math.fround;
  const wd = f(rule.weightDecay);
  if (rule.name === 'sgd') {
    const mu = f(rule.momentum);
    const [mom] = states as [Float32Array];
    const nesterov = rule.nesterov;
    for (let s = 0; s < visit.length; s++) {
      for (let k = 0, i = visit[s]! * dim, at = slots[s]! * dim; k < dim; k++, i++, at++) {
        const p = table[i]!;
        const g = wd ? f(summed[at]! + f(p * wd)) : summed[at]!;
        const buf = f(f(mom[i]! * mu) + g);
        const dir = nesterov ? f(g + f(buf * mu)) : buf;
        mom[i] = buf;
        table[i] = f(p - f(dir * lr));
      }
    }
    return;
  }
  const [m, v] = states as [Float32Array, Float32Array];
  const { b1, b2, c1, c2, eps, stepSize, invSqrtBc2, decay, wd: coupled } = adamScalars(rule, lr, step);
  for (let s = 0; s < visit.length; s++) {
    for (let k = 0, i = visit[s]! * dim, at = slots[s]! * dim; k < dim; k++, i++, at++) {
      const p = table[i]!;
      const g = coupled ? f(summed[at]! + f(p * coupled)) : summed[at]!;
      const m2 = f(f(m[i]! * b1) + f(g * c1));
      const v2 = f(f(v[i]! * b2) + f(f(g * g) * c2));
      const denom = f(f(f(Math.sqrt(v2)) * invSqrtBc2) + eps);
      m[i] = m2;
      v[i] = v2;
      table[i] = f(f(p * decay) - f(f(m2 / denom) * stepSize));
    }
  }
}

/**
 * Adam's float32 scalars for a step at float32 learning rate `lr` and 1-based `step`, as the graph computes them:
 * the bias corrections in float64, rounded once; `decay` 1 unless AdamW decays; `wd` the coupled (Adam) weight decay.
 */
export function adamScalars(rule: Extract<TableRule, { name: 'adam' | 'adamw' }>, lr: number, step: number) {
  const f = Math.fround;
  const wd = f(rule.weightDecay);
  return {
    b1: f(rule.beta1), b2: f(rule.beta2), c1: f(1 - rule.beta1), c2: f(1 - rule.beta2), eps: f(rule.eps),
    stepSize: f(lr / (1 - rule.beta1 ** step)), invSqrtBc2: f(1 / Math.sqrt(1 - rule.beta2 ** step)),
    decay: rule.name === 'adamw' && wd ? f(1 - f(lr * wd)) : 1, wd: rule.name === 'adam' ? wd : 0,
  };
}
