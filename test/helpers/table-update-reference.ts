/**
 * The gather and row-sparse ("lazy") update of a worker-held table written as plain float32 JS: the reference the
 * WebAssembly kernels (lib/onnx/wasm-table.ts) are checked against bit for bit. Semantics: lib/onnx/session-host-tables.ts.
 */
import { SUBNORMAL_FLUSH } from '../../lib/onnx/optimizers.js';
import { adamScalars, PADDING_ROW, type TableRule } from '../../lib/onnx/session-host-tables.js';

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

/** A state value as the graph stores it: (x + C) - C in float32 (optimizers.ts, withoutSubnormals). */
const withoutSubnormals = (x: number) => Math.fround(Math.fround(x + SUBNORMAL_FLUSH) - SUBNORMAL_FLUSH);

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
        mom[i] = withoutSubnormals(buf);
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
      m[i] = withoutSubnormals(m2);
      v[i] = withoutSubnormals(v2);
      table[i] = f(f(p * decay) - f(f(m2 / denom) * stepSize));
    }
  }
}

