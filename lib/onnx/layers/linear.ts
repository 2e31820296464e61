/**
 * Fully connected layer y = x·Wᵀ + b with PyTorch's weight layout W [out, in],
 * so exported weights line up with nn.Linear.
 */
import type { GraphBuilder } from '../graph.js';
import { reduceSum } from '../ops.js';
import type { ParamSpec } from '../params.js';

export interface LinearParams { weight: string; bias: string }

export function linearParams(prefix: string, inFeatures: number, outFeatures: number): ParamSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [outFeatures, inFeatures], fanIn: inFeatures, init: 'kaiming-uniform' },
    { name: `${prefix}.bias`, shape: [outFeatures], fanIn: inFeatures, init: 'zeros' },
  ];
}

export function linearForward(g: GraphBuilder, x: string, p: LinearParams): string {
  return g.op('Gemm', [x, p.weight, p.bias], { transB: 1 });
}

export interface LinearGrads { weight: string; bias: string; input?: string }

/** Gradients given dy [B,out]; the input gradient is skipped for the first layer, which has no use for it. */
export function linearBackward(g: GraphBuilder, x: string, p: LinearParams, dy: string, inputGrad: boolean): LinearGrads {
  return {
    weight: g.op('Gemm', [dy, x], { transA: 1 }),
    bias: reduceSum(g, dy, [0], false),
    input: inputGrad ? g.op('Gemm', [dy, p.weight]) : undefined,
  };
}
