/**
 * The few pieces of the WebAssembly binary format that table-update-kernel.ts needs to write a module by hand:
 * functions over an imported memory, their locals, and the integer, float32 and SIMD (f32x4) instructions they use.
 * Writing the bytes here avoids a build step and a toolchain for ~100 instructions.
 */

/** Value types. */
export const I32 = 0x7f as const;
export const F32 = 0x7d as const;
export const V128 = 0x7b as const;
export type ValueType = typeof I32 | typeof F32 | typeof V128;

/** Unsigned LEB128. */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

/** Signed LEB128 (i32.const immediates). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const name = (s: string): number[] => vec([...Buffer.from(s)].map((b) => [b]));
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const simd = (op: number): number[] => [0xfd, ...leb(op)];

/** Instructions; local indices count the parameters first. */
export const op = {
  get: (local: number) => [0x20, ...leb(local)],
  set: (local: number) => [0x21, ...leb(local)],
  i32: (value: number) => [0x41, ...sleb(value)],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32And: [0x71],
  i32Shl: [0x74],
  i32GeU: [0x4f],
  i32LtS: [0x48],
  /** block/loop with no result; `end` closes either. */
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  /** if (no result) … else … end, on an i32 condition. */
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...leb(depth)],
  brIf: (depth: number) => [0x0d, ...leb(depth)],
  /** Loads and stores take their address from the stack (no offset; alignment hint 4 bytes). */
  i32Load: [0x28, 2, 0],
  f32Load: [0x2a, 2, 0],
  f32Store: [0x38, 2, 0],
  f32Add: [0x92],
  f32Sub: [0x93],
  f32Mul: [0x94],
  f32Div: [0x95],
  f32Sqrt: [0x91],
  f32Const0: [0x43, 0, 0, 0, 0],
  v128Load: [...simd(0x00), 2, 0],
  v128Const0: [...simd(0x0c), ...new Array<number>(16).fill(0)],
  v128Store: [...simd(0x0b), 2, 0],
  f32x4Splat: simd(0x13),
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Mul: simd(0xe6),
  f32x4Div: simd(0xe7),
  f32x4Sqrt: simd(0xe3),
};

export interface WasmFunction { name: string; params: ValueType[]; locals: ValueType[]; body: number[] }

/** A module that imports `env.memory` and exports `functions`, each with no result; bodies come without the final `end`. */
export function moduleBytes(functions: WasmFunction[]): Uint8Array {
  const types = functions.map((fn) => [0x60, ...vec(fn.params.map((p) => [p])), ...vec([])]);
  const memoryImport = [...name('env'), ...name('memory'), 0x02, 0x00, ...leb(1)];
  const codes = functions.map((fn) => {
    const code = [...vec(fn.locals.map((t) => [...leb(1), t])), ...fn.body, ...op.end];
    return [...leb(code.length), ...code];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([memoryImport])),
    ...section(3, vec(functions.map((_, i) => leb(i)))),
    ...section(7, vec(functions.map((fn, i) => [...name(fn.name), 0x00, ...leb(i)]))),
    ...section(10, vec(codes)),
  ]);
}
