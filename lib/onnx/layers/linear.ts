/**
 * Fully connected layer y = x·Wᵀ + b on [B, in] inputs, with PyTorch's weight layout W [out, in]
 * so exported weights line up with nn.Linear.
 */
import type { Tape } from '../autodiff/tape.js';
import { reduceSum } from '../ops.js';
import { expectRank, withBatchOf } from './shapes.js';

export interface LinearOptions { bias?: boolean }

export function linear(t: Tape, name: string, x: string, outFeatures: number, opts: LinearOptions = {}): string {
  const { g } = t;
  const [inFeatures] = expectRank(t, x, 2, `linear ${name}`) as [number];
  const weight = t.param({ name: `${name}.weight`, shape: [outFeatures, inFeatures], fanIn: inFeatures, init: 'kaiming-uniform' });
  const bias = opts.bias === false ? undefined
    : t.param({ name: `${name}.bias`, shape: [outFeatures], fanIn: inFeatures, init: 'zeros' });
  const y = g.op('Gemm', bias ? [x, weight, bias] : [x, weight], { transB: 1 });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  t.record(inputs, [y], ([dy], [dx, dw, db]) => [
    dx ? g.op('Gemm', [dy!, weight]) : undefined,
    dw ? g.op('Gemm', [dy!, x], { transA: 1 }) : undefined,
    db ? reduceSum(g, dy!, [0], false) : undefined,
  ]);
  return withBatchOf(t, y, x, [outFeatures]);
}
