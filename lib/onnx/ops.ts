/** Small emitters for opset-18 ops whose axes are tensor inputs rather than attributes, and other shorthands. */
import type { GraphBuilder } from './graph.js';

export function axes(g: GraphBuilder, values: number[]): string {
  return g.const('int64', [values.length], values);
}

/** A float32 scalar constant. */
export function scalar(g: GraphBuilder, value: number): string {
  return g.const('float32', [], [value]);
}

/** An int64 scalar constant. */
export function int64(g: GraphBuilder, value: number): string {
  return g.const('int64', [], [value]);
}

/** Sum over `over` (all axes when omitted). */
export function reduceSum(g: GraphBuilder, x: string, over: number[] | undefined, keepdims: boolean): string {
  const inputs = over ? [x, axes(g, over)] : [x];
  return g.op('ReduceSum', inputs, { keepdims: keepdims ? 1 : 0 });
}

export function reduceMean(g: GraphBuilder, x: string, over: number[], keepdims: boolean): string {
  return g.op('ReduceMean', [x, axes(g, over)], { keepdims: keepdims ? 1 : 0 });
}

export function unsqueeze(g: GraphBuilder, x: string, at: number[]): string {
  return g.op('Unsqueeze', [x, axes(g, at)]);
}

export function squeeze(g: GraphBuilder, x: string, at: number[]): string {
  return g.op('Squeeze', [x, axes(g, at)]);
}

/** Reshape to a static target; -1 and 0 keep their ONNX meaning (inferred, copied). */
export function reshape(g: GraphBuilder, x: string, to: number[]): string {
  return g.op('Reshape', [x, g.const('int64', [to.length], to)]);
}

/** Reshape `x` to the runtime shape of `like` (gradients back to a value with a symbolic batch dim). */
export function reshapeLike(g: GraphBuilder, x: string, like: string): string {
  return g.op('Reshape', [x, g.op('Shape', [like])]);
}
