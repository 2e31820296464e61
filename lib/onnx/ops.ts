/** Small emitters for opset-18 ops whose axes are tensor inputs rather than attributes. */
import type { GraphBuilder } from './graph.js';

export function axes(g: GraphBuilder, values: number[]): string {
  return g.const('int64', [values.length], values);
}

/** A float32 scalar constant. */
export function scalar(g: GraphBuilder, value: number): string {
  return g.const('float32', [], [value]);
}

/** Sum over `over` (all axes when omitted). */
export function reduceSum(g: GraphBuilder, x: string, over: number[] | undefined, keepdims: boolean): string {
  const inputs = over ? [x, axes(g, over)] : [x];
  return g.op('ReduceSum', inputs, { keepdims: keepdims ? 1 : 0 });
}

export function unsqueeze(g: GraphBuilder, x: string, at: number[]): string {
  return g.op('Unsqueeze', [x, axes(g, at)]);
}

export function squeeze(g: GraphBuilder, x: string, at: number[]): string {
  return g.op('Squeeze', [x, axes(g, at)]);
}
