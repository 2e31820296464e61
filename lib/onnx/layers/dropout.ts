/**
 * Inverted dropout: in training, zeroes each element with probability p and scales the rest by 1/(1−p);
 * the identity in inference. The mask is a pure function of (rng_seed, layer name, flat element index), so a
 * step is reproducible from its seed. It is hashed with integer ONNX ops rather than drawn with RandomUniform,
 * whose seed is a fixed node attribute.
 *
 * Hash, all in int64 holding uint32 values (products stay below 2^63; `>>` is division by a power of two):
 *   mix(h) = h ^= h>>16; h = h·0x45d9f3b mod 2^32; h ^= h>>16; h = h·0x45d9f3b mod 2^32; h ^= h>>16
 *   keyed  = mix((floor(rng_seed) mod 2^32) ^ fnv1a(name))
 *   u      = (mix((keyed + index) mod 2^32) mod 2^24) / 2^24 ∈ [0, 1);   keep ⇔ u ≥ p
 * rng_seed is a float32, so seeds are exact integers below 2^24.
 */
import type { Tape } from '../autodiff/tape.js';
import type { GraphBuilder } from '../graph.js';
import { int64, scalar } from '../ops.js';
import { DataType } from '../proto.js';

const TWO_32 = 2 ** 32;
const MIX_MULTIPLIER = 0x45d9f3b;

export function dropout(t: Tape, name: string, x: string, p: number): string {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout ${name}: p=${p} outside [0, 1)`);
  if (!t.training || p === 0) return x;
  const { g } = t;
  const seed = g.op('Mod', [g.op('Cast', [g.op('Floor', [t.rngSeed()])], { to: DataType.int64 }), int64(g, TWO_32)]);
  const keyed = mix(g, g.op('BitwiseXor', [seed, int64(g, fnv1a(name))]));
  const index = g.op('Reshape', [g.op('Range', [int64(g, 0), g.op('Size', [x]), int64(g, 1)]), g.op('Shape', [x])]);
  const h = mix(g, g.op('Mod', [g.op('Add', [index, keyed]), int64(g, TWO_32)]));
  const u = g.op('Mul', [g.op('Cast', [g.op('Mod', [h, int64(g, 2 ** 24)])], { to: DataType.float32 }), scalar(g, 2 ** -24)]);
  const keep = g.op('GreaterOrEqual', [u, scalar(g, p)]);
  const scale = g.op('Mul', [g.op('Cast', [keep], { to: DataType.float32 }), scalar(g, 1 / (1 - p))]);
  const y = g.op('Mul', [x, scale]);
  t.record([x], [y], ([dy]) => [g.op('Mul', [dy!, scale])]);
  return t.setShape(y, t.shape(x));
}

function mix(g: GraphBuilder, h0: string): string {
  const shiftXor = (h: string): string => g.op('BitwiseXor', [h, g.op('Div', [h, int64(g, 1 << 16)])]);
  const mul = (h: string): string => g.op('Mod', [g.op('Mul', [h, int64(g, MIX_MULTIPLIER)]), int64(g, TWO_32)]);
  return shiftXor(mul(shiftXor(mul(shiftXor(h0)))));
}

/** 32-bit FNV-1a of the layer name: distinct dropout layers draw distinct masks from one seed. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}
