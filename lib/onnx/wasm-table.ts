/**
 * A worker-held table and its optimizer state in one WebAssembly memory, next to a gradient scratch and the span
 * lists of table-update-kernel.ts, so the SIMD kernel updates them in place. Each row's table values and its
 * optimizer state lie side by side (row r: its values, then each state's), so a step that touches a row scattered
 * over a large table touches one page for it rather than one per array: on 4 KB pages those page walks were most of
 * what the update of dlrm-host-100k's tables cost beyond its arithmetic (bench/README.md).
 *
 * A step's gradient is the rows' gradient [occurrences, dim] of the graph. It is copied in and summed per distinct
 * row in occurrence order (batch-major), as ScatterND(reduction='add') builds an in-graph table's gradient, each
 * addition in float32: slot s ≥ 1 of the scratch holds the s-th distinct row's sum, slot 0 stays zero.
 * Then the kernel updates, row by row:
 * - `dense`: every row, untouched ones with slot 0's zero gradient, as the graph updates a table it holds (the span
 *   lists are kept: all rows in order, and each row's slot, 0 but for the step's rows);
 * - `lazy`: only the touched rows and their state (session-host-tables.ts explains why), in ascending order, which
 *   makes the walk over the table and its state sequential.
 */
import type { TableUpdateMode } from './autodiff/tape.js';
import { PADDING_ROW, type TableRule } from './session-host-tables.js';
import { tableKernels, type KernelLayout, type TableKernels } from './table-update-kernel.js';

const PAGE = 65536;
/** Regions start on 16-byte boundaries (whole f32x4 lanes). */
const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

export class WasmTable {
  private readonly memory: WebAssembly.Memory;
  private readonly kernels: TableKernels;
  private readonly vocab: number;
  /** Byte offset of each array (the table, then each state) within a row; the span lists and the scratch follow the rows. */
  private readonly offsets: number[];
  /** Floats a row takes: its values and each state's. */
  private readonly rowFloats: number;
  private readonly listsAt: number;
  /** Distinct rows a step may have room for in the scratch (and, lazy, in the span lists). */
  private capacity = 0;
  /**
   * The update kernel's layout, and where the accumulate kernel's inputs go (each occurrence's slot, the gradient);
   * `gather` uses the same two regions for the rows it is given and the rows it copies out.
   */
  private layout!: KernelLayout & { occurrences: number; gradIn: number };
  private views!: { grad: Float32Array; rows: Int32Array; slots: Int32Array; occurrences: Int32Array; gradIn: Float32Array };
  /** Lazy: each row's slot during a step, 0 between steps. Dense: the slot list itself plays that part. */
  private readonly slotOf: Int32Array;
  /** The step's distinct rows, in order of first occurrence. */
  private touched = new Int32Array(0);

  /** Copies `table` [vocab, dim] and its optimizer `states` in. */
  constructor(table: Float32Array, states: Float32Array[], readonly dim: number, rule: TableRule, readonly mode: TableUpdateMode) {
    this.vocab = table.length / dim;
    const arrays = [table, ...states];
    this.rowFloats = arrays.length * dim;
    this.offsets = arrays.map((_, i) => i * 4 * dim);
    this.listsAt = align16(4 * this.vocab * this.rowFloats);
    this.memory = new WebAssembly.Memory({ initial: 1 });
    this.kernels = tableKernels(rule, this.memory);
    this.slotOf = mode === 'lazy' ? new Int32Array(this.vocab) : new Int32Array(0);
    this.reserve(0);
    const rows = this.rowWords();
    arrays.forEach((a, i) => copyRows(new Uint32Array(a.buffer, a.byteOffset, a.length), 0, dim, rows, i * dim, this.rowFloats, this.vocab, dim));
    if (mode === 'dense') this.views.rows.forEach((_, r, list) => { list[r] = r; });
  }

  /** Array `i` [vocab, dim] (0: the table's values; then each optimizer state's), copied out of the rows bit for bit. */
  array(i: number): Float32Array<ArrayBuffer> {
    const out = new Uint32Array(this.vocab * this.dim);
    copyRows(this.rowWords(), i * this.dim, this.rowFloats, out, 0, this.dim, this.vocab, this.dim);
    return new Float32Array(out.buffer);
  }

  /** The rows as 32-bit words: copied as words, every bit pattern (NaN payloads too) stays as it was. */
  private rowWords(): Uint32Array {
    return new Uint32Array(this.memory.buffer, 0, this.vocab * this.rowFloats);
  }

  /**
   * The rows `rows` of the table (zeros for PADDING_ROW), [rows.length, dim]: a view into this table's memory, valid
   * until the `step` that follows (which takes the gradient of these same rows).
   */
  gather(rows: Int32Array): Float32Array {
    if (rows.length > this.capacity) this.reserve(rows.length);
    const { layout } = this;
    this.views.occurrences.set(rows);
    this.kernels.gather(layout.table, layout.occurrences, rows.length, layout.gradIn, this.dim, layout.stride);
    return this.views.gradIn.subarray(0, rows.length * this.dim);
  }

  /**
   * One optimizer step from the gradient `grad` [rows.length, dim] of the rows `rows` (PADDING_ROW: no row) gathered
   * for it; `lr` is the step's float32 learning rate, `step` the 1-based step.
   */
  step(rows: Int32Array, grad: Float32Array, lr: number, step: number): void {
    if (grad.length !== rows.length * this.dim) throw new Error(`table step: ${grad.length} gradient values for ${rows.length} rows of ${this.dim}`);
    if (rows.length > this.capacity) this.reserve(rows.length);
    const { dim, touched, layout } = this;
    const { rows: list, slots, occurrences } = this.views;
    const dense = this.mode === 'dense';
    const slotOf = dense ? slots : this.slotOf;
    let count = 0;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (r === PADDING_ROW) {
        occurrences[i] = -1;
        continue;
      }
      let slot = slotOf[r]!;
      if (slot === 0) {
        touched[count] = r;
        slot = ++count;
        slotOf[r] = slot;
      }
      occurrences[i] = slot;
    }
    this.views.gradIn.set(grad);
    this.kernels.accumulate(layout.gradIn, layout.occurrences, rows.length, layout.grad, dim);
    if (dense) {
      this.kernels.update(layout, this.vocab, dim, lr, step);
      for (let s = 0; s < count; s++) slots[touched[s]!] = 0;
      return;
    }
    // Rows are independent: visiting them in table order only makes the walk over the table and its state sequential.
    // When the step touches a good share of the table, a scan of the slots finds them in order faster than a sort.
    if (this.vocab <= 8 * count) {
      for (let r = 0, s = 0; s < count; r++) {
        if (slotOf[r] === 0) continue;
        list[s] = r;
        slots[s++] = slotOf[r]!;
        slotOf[r] = 0;
      }
    } else {
      list.set(touched.subarray(0, count));
      list.subarray(0, count).sort();
      for (let s = 0; s < count; s++) {
        const r = list[s]!;
        slots[s] = slotOf[r]!;
        slotOf[r] = 0;
      }
    }
    this.kernels.update(layout, count, dim, lr, step);
  }

  /**
   * Room for `rows` distinct rows a step. Growing the memory replaces every view (and moves a lazy table's span
   * lists, whose contents last one step; a dense table's come first and stay put).
   */
  private reserve(rows: number): void {
    const listLength = this.mode === 'dense' ? this.vocab : Math.max(rows, 1);
    const listBytes = align16(4 * listLength);
    const occurrences = this.listsAt + 2 * listBytes;
    const gradIn = occurrences + align16(4 * Math.max(rows, 1));
    const grad = gradIn + align16(4 * rows * this.dim);
    const needed = grad + align16(4 * (rows + 1) * this.dim);
    const have = this.memory.buffer.byteLength;
    if (needed > have) this.memory.grow(Math.ceil((needed - have) / PAGE));
    this.capacity = rows;
    this.touched = new Int32Array(rows);
    this.layout = {
      table: this.offsets[0]!, states: this.offsets.slice(1), grad, rows: this.listsAt, slots: this.listsAt + listBytes, occurrences, gradIn,
      stride: 4 * this.rowFloats,
    };
    const buffer = this.memory.buffer;
    this.views = {
      grad: new Float32Array(buffer, grad, (rows + 1) * this.dim),
      rows: new Int32Array(buffer, this.layout.rows, listLength),
      slots: new Int32Array(buffer, this.layout.slots, listLength),
      occurrences: new Int32Array(buffer, occurrences, Math.max(rows, 1)),
      gradIn: new Float32Array(buffer, gradIn, rows * this.dim),
    };
    // The scratch may now cover what a lazy table's longer span lists held.
    this.views.grad.fill(0);
  }
}

/** Copies `count` runs of `width` words, `fromStride` apart in `from` (from `fromStart`), `toStride` apart in `to`. */
function copyRows(
  from: Uint32Array, fromStart: number, fromStride: number, to: Uint32Array, toStart: number, toStride: number, count: number, width: number,
): void {
  for (let r = 0, src = fromStart, dst = toStart; r < count; r++, src += fromStride - width, dst += toStride - width) {
    for (let k = 0; k < width; k++) to[dst++] = from[src++]!;
  }
}
