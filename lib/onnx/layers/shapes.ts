/** Static shape bookkeeping shared by the layers: dim 0 is the (usually symbolic) batch, the rest must be known. */
import type { Tape } from '../autodiff/tape.js';
import type { Dim } from '../proto.js';

/** Dims of `x` after the batch dim; throws if one is symbolic, since kernels and parameters are sized from them. */
export function featureShape(t: Tape, x: string, layer: string): number[] {
  const [, ...rest] = t.shape(x);
  if (!rest.every((d): d is number => typeof d === 'number')) throw new Error(`${layer}: input shape [${t.shape(x)}] must be static after the batch dim`);
  return rest;
}

/** Records `value`'s shape as `x`'s batch dim followed by `features`. */
export function withBatchOf(t: Tape, value: string, x: string, features: Dim[]): string {
  return t.setShape(value, [t.shape(x)[0]!, ...features]);
}

export function expectRank(t: Tape, x: string, rank: number, layer: string): number[] {
  const f = featureShape(t, x, layer);
  if (f.length + 1 !== rank) throw new Error(`${layer}: expects a rank-${rank} input, got [${t.shape(x)}]`);
  return f;
}
