/**
 * The optimizer step of a worker-held table as WebAssembly SIMD kernels. A JS loop must round every operation to
 * float32 (Math.fround) to stay bit-identical to the in-graph update, which made a dense Adam step over DLRM's 1.7M
 * table values take about 11 ms; f32x4 arithmetic rounds each lane to float32 as the graph's kernels do, four values
 * per instruction (about 1 ms, bit-identical).
 *
 * `update` updates `count` rows of `span` values: the i-th is row `rows[i]` of the table and of each state (row r of
 * each `r · stride` bytes past its start: rows of the table and its states may interleave) and takes its gradient from
 * row `slots[i]` of the gradient scratch, which it clears as it reads it (slot 0 is a zero row that untouched rows of a
 * dense update read). The operations are those of `appendOptimizer` (optimizers.ts) and of the reference `sparseUpdate`
 * (test/helpers/table-update-reference.ts), in their order; each rule's variant emits only the weight-decay operations
 * the graph would emit. `accumulate` adds the gradient of each gathered row to its slot of the scratch, in occurrence
 * order; `gather` copies the rows of a batch out of the table.
 */
import { SUBNORMAL_FLUSH } from './optimizers.js';
import { adamScalars, type TableRule } from './session-host-tables.js';
import { F32, I32, moduleBytes, op, V128, type ValueType, type WasmFunction } from './wasm-encoding.js';

/**
 * Byte offsets into the kernel's memory: row 0 of the table and of its optimizer states, the gradient scratch, the
 * span lists; `stride`, the bytes from one row of the table (and of each state) to the next.
 */
export interface KernelLayout { table: number; states: number[]; grad: number; rows: number; slots: number; stride: number }

/** The kernels of one rule over one memory. */
export interface TableKernels {
  /** One step over `count` rows (lists at `layout.rows` / `layout.slots`) of `span` values each. */
  update(layout: KernelLayout, count: number, span: number, lr: number, step: number): void;
  /**
   * Adds `count` gradient rows of `span` values (at byte offset `grad`) to the scratch rows their slots name (int32s
   * at `occurrences`; a negative slot skips the row).
   */
  accumulate(grad: number, occurrences: number, count: number, scratch: number, span: number): void;
  /** Copies rows `rows` (`count` int32s at that byte offset; negative: zeros) of the table at `table`, `stride` bytes apart, to `out`. */
  gather(table: number, rows: number, count: number, out: number, span: number, stride: number): void;
}

/** One lane width: f32x4 over four values, or f32 for the tail of a span that is not a multiple of four. */
interface Width {
  bytes: number;
  load: number[]; store: number[]; add: number[]; sub: number[]; mul: number[]; div: number[]; sqrt: number[];
  zero: number[];
  /** Reads rule scalar k. */
  scalar(k: number): number[];
}

/** Rule-specific emission: scalar names (their order), state count, and the body over one lane group. */
interface Program {
  scalars: string[];
  states: number;
  /** `at(s)` pushes the address of stream s (0 table, 1.. states, -1 gradient) for the current lane group. */
  body(w: Width, at: (stream: number) => number[], temp: (k: number) => number): number[];
}

const G = -1;

function adamProgram(coupled: boolean, decoupled: boolean): Program {
  const scalars = ['b1', 'b2', 'c1', 'c2', 'eps', 'stepSize', 'invSqrtBc2', 'flush', ...(decoupled ? ['decay'] : []), ...(coupled ? ['wd'] : [])];
  const k = (n: string) => scalars.indexOf(n);
  return {
    scalars,
    states: 2,
    body(w, at, temp) {
      const [g, m2, v2] = [temp(0), temp(1), temp(2)];
      const s = (n: string) => w.scalar(k(n));
      return [
        ...at(G), ...w.load, ...op.set(g),
        ...at(G), ...w.zero, ...w.store,
        // g + p·wd (torch Adam weight_decay)
        ...(coupled ? [...op.get(g), ...at(0), ...w.load, ...s('wd'), ...w.mul, ...w.add, ...op.set(g)] : []),
        // m·β1 + g·(1-β1)
        ...at(1), ...w.load, ...s('b1'), ...w.mul, ...op.get(g), ...s('c1'), ...w.mul, ...w.add, ...op.set(m2),
        // v·β2 + (g·g)·(1-β2)
        ...at(2), ...w.load, ...s('b2'), ...w.mul, ...op.get(g), ...op.get(g), ...w.mul, ...s('c2'), ...w.mul, ...w.add, ...op.set(v2),
        // stored without subnormals: (x + flush) - flush (optimizers.ts withoutSubnormals)
        ...at(1), ...op.get(m2), ...s('flush'), ...w.add, ...s('flush'), ...w.sub, ...w.store,
        ...at(2), ...op.get(v2), ...s('flush'), ...w.add, ...s('flush'), ...w.sub, ...w.store,
        // p·(1 - lr·wd) (AdamW) - m2 / (sqrt(v2)·(1/sqrt(bc2)) + eps) · (lr/bc1)
        ...at(0),
        ...at(0), ...w.load, ...(decoupled ? [...s('decay'), ...w.mul] : []),
        ...op.get(m2), ...op.get(v2), ...w.sqrt, ...s('invSqrtBc2'), ...w.mul, ...s('eps'), ...w.add, ...w.div, ...s('stepSize'), ...w.mul,
        ...w.sub, ...w.store,
      ];
    },
  };
}

function sgdProgram(coupled: boolean, nesterov: boolean): Program {
  const scalars = ['mu', 'lr', 'flush', ...(coupled ? ['wd'] : [])];
  const k = (n: string) => scalars.indexOf(n);
  return {
    scalars,
    states: 1,
    body(w, at, temp) {
      const [g, buf] = [temp(0), temp(1)];
      const s = (n: string) => w.scalar(k(n));
      return [
        ...at(G), ...w.load, ...op.set(g),
        ...at(G), ...w.zero, ...w.store,
        ...(coupled ? [...op.get(g), ...at(0), ...w.load, ...s('wd'), ...w.mul, ...w.add, ...op.set(g)] : []),
        // buf = mom·μ + g
        ...at(1), ...w.load, ...s('mu'), ...w.mul, ...op.get(g), ...w.add, ...op.set(buf),
        ...at(1), ...op.get(buf), ...s('flush'), ...w.add, ...s('flush'), ...w.sub, ...w.store,
        // p - lr·(nesterov ? g + μ·buf : buf)
        ...at(0),
        ...at(0), ...w.load,
        ...(nesterov ? [...op.get(g), ...op.get(buf), ...s('mu'), ...w.mul, ...w.add] : op.get(buf)),
        ...s('lr'), ...w.mul, ...w.sub, ...w.store,
      ];
    },
  };
}

/** The locals of a kernel's loop over row entries: the entry count and span (parameters), the cursor and byte ends. */
interface RowLoopLocals { count: number; span: number; cursor: number; end: number; vecEnd: number; spanEnd: number }

/**
 * The loop of every kernel: `body` once per 4-byte entry from `cursor` (0) to count·4, after setting the span's byte
 * ends (spanEnd = span·4; vecEnd = its whole 4-float vectors, span rounded down to a multiple of 4, ·4).
 */
function rowLoop({ count, span, cursor, end, vecEnd, spanEnd }: RowLoopLocals, body: number[]): number[] {
  return [
    ...op.get(count), ...op.i32(2), ...op.i32Shl, ...op.set(end),
    ...op.get(span), ...op.i32(2), ...op.i32Shl, ...op.set(spanEnd),
    ...op.get(span), ...op.i32(-4), ...op.i32And, ...op.i32(2), ...op.i32Shl, ...op.set(vecEnd),
    ...strideLoop(cursor, end, 4, body),
  ];
}

/** `body` once for each `bytes`-wide step of local `off` up to local `limit`. */
function strideLoop(off: number, limit: number, bytes: number, body: number[]): number[] {
  return [
    ...op.block, ...op.loop,
    ...op.get(off), ...op.get(limit), ...op.i32GeU, ...op.brIf(1),
    ...body,
    ...op.get(off), ...op.i32(bytes), ...op.i32Add, ...op.set(off),
    ...op.br(0),
    ...op.end, ...op.end,
  ];
}

/**
 * `update` of program `p`. Parameters: table, states..., grad, rows, slots (byte offsets), count, span, then the
 * rule's float32 scalars.
 */
function updateFunction(p: Program): WasmFunction {
  const streams = 1 + p.states;
  // Parameter indices.
  const base = (s: number) => (s === G ? streams : s);
  const [rows, slots, count, span, stride] = [streams + 1, streams + 2, streams + 3, streams + 4, streams + 5];
  const firstScalar = streams + 6;
  const params: ValueType[] = [...new Array<ValueType>(streams + 6).fill(I32), ...p.scalars.map((): ValueType => F32)];
  // Locals: i32 cursor, ends, row offset, lane offset and a row base per stream and the gradient; v128 splatted
  // scalars and temps; f32 temps.
  const locals: ValueType[] = [];
  const local = (type: ValueType) => params.length + locals.push(type) - 1;
  const [cursor, end, vecEnd, spanEnd, rowOff, off] = [local(I32), local(I32), local(I32), local(I32), local(I32), local(I32)];
  const rowBase = Array.from({ length: streams + 1 }, () => local(I32)); // [streams..., gradient]
  const vScalars = p.scalars.map(() => local(V128));
  const vTemps = [local(V128), local(V128), local(V128)];
  const fTemps = [local(F32), local(F32), local(F32)];
  const rowBaseOf = (s: number) => rowBase[s === G ? streams : s]!;
  const at = (s: number) => [...op.get(rowBaseOf(s)), ...op.get(off), ...op.i32Add];

  const vector: Width = {
    bytes: 16, load: op.v128Load, store: op.v128Store, add: op.f32x4Add, sub: op.f32x4Sub, mul: op.f32x4Mul,
    div: op.f32x4Div, sqrt: op.f32x4Sqrt, zero: op.v128Const0, scalar: (k) => op.get(vScalars[k]!),
  };
  const scalar: Width = {
    bytes: 4, load: op.f32Load, store: op.f32Store, add: op.f32Add, sub: op.f32Sub, mul: op.f32Mul,
    div: op.f32Div, sqrt: op.f32Sqrt, zero: op.f32Const0, scalar: (k) => op.get(firstScalar + k),
  };
  /** Lanes of `w` from `off` up to `limit` bytes into the span. */
  const lanes = (w: Width, temps: number[], limit: number) => strideLoop(off, limit, w.bytes, p.body(w, at, (k) => temps[k]!));
  const body = [
    ...p.scalars.flatMap((_, k) => [...op.get(firstScalar + k), ...op.f32x4Splat, ...op.set(vScalars[k]!)]),
    ...rowLoop({ count, span, cursor, end, vecEnd, spanEnd }, [
      // Byte offset of the span's row, then each stream's row base; the gradient's from the slot.
      ...op.get(rows), ...op.get(cursor), ...op.i32Add, ...op.i32Load, ...op.get(stride), ...op.i32Mul, ...op.set(rowOff),
      ...Array.from({ length: streams }, (_, s) => [...op.get(base(s)), ...op.get(rowOff), ...op.i32Add, ...op.set(rowBase[s]!)]).flat(),
      ...op.get(base(G)), ...op.get(slots), ...op.get(cursor), ...op.i32Add, ...op.i32Load, ...op.get(spanEnd), ...op.i32Mul, ...op.i32Add,
      ...op.set(rowBaseOf(G)),
      ...op.i32(0), ...op.set(off),
      ...lanes(vector, vTemps, vecEnd),
      ...lanes(scalar, fTemps, spanEnd),
    ]),
  ];
  return { name: 'update', params, locals, body };
}

/** `accumulate`. Parameters: grad, occurrences (byte offsets), count, scratch (byte offset), span. */
function accumulateFunction(): WasmFunction {
  const [grad, occurrences, count, scratch, span] = [0, 1, 2, 3, 4];
  const [cursor, end, vecEnd, spanEnd, dst, off] = [5, 6, 7, 8, 9, 10];
  const add = (load: number[], store: number[], addOp: number[], bytes: number, limit: number) => strideLoop(off, limit, bytes, [
    ...op.get(dst), ...op.get(off), ...op.i32Add,
    ...op.get(dst), ...op.get(off), ...op.i32Add, ...load, ...op.get(grad), ...op.get(off), ...op.i32Add, ...load, ...addOp,
    ...store,
  ]);
  const body = rowLoop({ count, span, cursor, end, vecEnd, spanEnd }, [
    ...op.block,
    // dst = scratch + slot · span bytes; a negative slot skips the row.
    ...op.get(occurrences), ...op.get(cursor), ...op.i32Add, ...op.i32Load, ...op.set(dst),
    ...op.get(dst), ...op.i32(0), ...op.i32LtS, ...op.brIf(0),
    ...op.get(scratch), ...op.get(dst), ...op.get(spanEnd), ...op.i32Mul, ...op.i32Add, ...op.set(dst),
    ...op.i32(0), ...op.set(off),
    ...add(op.v128Load, op.v128Store, op.f32x4Add, 16, vecEnd),
    ...add(op.f32Load, op.f32Store, op.f32Add, 4, spanEnd),
    ...op.end,
    ...op.get(grad), ...op.get(spanEnd), ...op.i32Add, ...op.set(grad),
  ]);
  return { name: 'accumulate', params: [I32, I32, I32, I32, I32], locals: [I32, I32, I32, I32, I32, I32], body };
}

/** `gather`. Parameters: table, rows (byte offsets), count, out (byte offset), span, stride. */
function gatherFunction(): WasmFunction {
  const [table, rows, count, out, span, stride] = [0, 1, 2, 3, 4, 5];
  const [cursor, end, vecEnd, spanEnd, src, off] = [6, 7, 8, 9, 10, 11];
  /** Copies (or, with `zero`, clears) the span from `off` up to `limit` in steps of `bytes`. */
  const copy = (load: number[], store: number[], zero: number[] | undefined, bytes: number, limit: number) => strideLoop(off, limit, bytes, [
    ...op.get(out), ...op.get(off), ...op.i32Add,
    ...(zero ?? [...op.get(src), ...op.get(off), ...op.i32Add, ...load]),
    ...store,
  ]);
  const row = (zero: boolean) => [
    ...op.i32(0), ...op.set(off),
    ...copy(op.v128Load, op.v128Store, zero ? op.v128Const0 : undefined, 16, vecEnd),
    ...copy(op.f32Load, op.f32Store, zero ? op.f32Const0 : undefined, 4, spanEnd),
  ];
  const body = rowLoop({ count, span, cursor, end, vecEnd, spanEnd }, [
    ...op.get(rows), ...op.get(cursor), ...op.i32Add, ...op.i32Load, ...op.set(src),
    ...op.get(src), ...op.i32(0), ...op.i32LtS,
    ...op.if, ...row(true),
    ...op.else,
    ...op.get(table), ...op.get(src), ...op.get(stride), ...op.i32Mul, ...op.i32Add, ...op.set(src),
    ...row(false),
    ...op.end,
    ...op.get(out), ...op.get(spanEnd), ...op.i32Add, ...op.set(out),
  ]);
  return { name: 'gather', params: [I32, I32, I32, I32, I32, I32], locals: [I32, I32, I32, I32, I32, I32], body };
}

const modules = new Map<string, WebAssembly.Module>();

/** The kernels of `program` (compiled once per rule variant) over `memory`. */
function instantiate(key: string, program: Program, memory: WebAssembly.Memory) {
  let m = modules.get(key);
  if (!m) {
    m = new WebAssembly.Module(moduleBytes([updateFunction(program), accumulateFunction(), gatherFunction()]));
    modules.set(key, m);
  }
  const { exports } = new WebAssembly.Instance(m, { env: { memory } });
  return {
    update: exports.update as (...a: number[]) => void,
    accumulate: exports.accumulate as TableKernels['accumulate'],
    gather: exports.gather as TableKernels['gather'],
  };
}

/** The kernels of `rule` over `memory`. `lr` is the step's float32 learning rate, `step` the 1-based step. */
export function tableKernels(rule: TableRule, memory: WebAssembly.Memory): TableKernels {
  const wd = Math.fround(rule.weightDecay);
  if (rule.name === 'sgd') {
    const { update, accumulate, gather } = instantiate(`sgd:${Boolean(wd)}:${rule.nesterov}`, sgdProgram(Boolean(wd), rule.nesterov), memory);
    const mu = Math.fround(rule.momentum);
    return { accumulate, gather, update: (l, count, span, lr) => update(l.table, l.states[0]!, l.grad, l.rows, l.slots, count, span, l.stride, mu, lr, Math.fround(SUBNORMAL_FLUSH), ...(wd ? [wd] : [])) };
  }
  const coupled = rule.name === 'adam' && Boolean(wd);
  const decoupled = rule.name === 'adamw' && Boolean(wd);
  const program = adamProgram(coupled, decoupled);
  const { update, accumulate, gather } = instantiate(`adam:${coupled}:${decoupled}`, program, memory);
  return {
    accumulate,
    gather,
    update: (l, count, span, lr, step) => {
      const s = adamScalars(rule, lr, step);
      update(l.table, l.states[0]!, l.states[1]!, l.grad, l.rows, l.slots, count, span, l.stride, ...program.scalars.map((n) => s[n as keyof typeof s]));
    },
  };
}
