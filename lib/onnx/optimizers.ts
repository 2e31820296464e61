/**
 * Optimizers appended to a train-step graph, one update per parameter. `lr` and `step` are scalar
 * graph inputs so schedules and resumption need no graph rebuild. Semantics follow torch.optim:
 * weight decay is the coupled L2 term (g += wd·p) of SGD and Adam (not AdamW).
 */
import type { GraphBuilder } from './graph.js';
import { scalar } from './ops.js';
import type { ParamSpec } from './params.js';

export type OptimizerConfig =
  | { name: 'sgd'; lr: number; momentum: number; weightDecay: number }
  | { name: 'adam'; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number };

/** Names of the optimizer-state tensors of one parameter; each has the parameter's shape. */
export function optimizerStateNames(param: string, opt: OptimizerConfig): string[] {
  return opt.name === 'sgd' ? [`${param}__mom`] : [`${param}__m`, `${param}__v`];
}

export interface ParamToUpdate { spec: ParamSpec; value: string; grad: string }

/**
 * Declares each parameter's state tensors as graph inputs and emits `<param>__new` and `<state>__new` outputs.
 * `step` is the 1-based index of the step being taken (Adam bias correction).
 */
export function appendOptimizer(
  g: GraphBuilder, opt: OptimizerConfig, lr: string, step: string, params: ParamToUpdate[],
): void {
  const adamScalars = opt.name === 'adam' ? adamStepScalars(g, opt, lr, step) : undefined;
  for (const { spec, value, grad } of params) {
    const states = optimizerStateNames(spec.name, opt).map((s) => g.input(s, 'float32', spec.shape));
    const gr = opt.weightDecay ? g.op('Add', [grad, g.op('Mul', [value, scalar(g, opt.weightDecay)])]) : grad;
    let update: string;
    let newStates: string[];
    if (opt.name === 'sgd') {
      const mom = g.op('Add', [g.op('Mul', [states[0]!, scalar(g, opt.momentum)]), gr]);
      update = g.op('Mul', [mom, lr]);
      newStates = [mom];
    } else {
      const [m, v] = states as [string, string];
      const { stepSize, invSqrtBc2 } = adamScalars!;
      const m2 = g.op('Add', [g.op('Mul', [m, scalar(g, opt.beta1)]), g.op('Mul', [gr, scalar(g, 1 - opt.beta1)])]);
      const gsq = g.op('Mul', [g.op('Mul', [gr, gr]), scalar(g, 1 - opt.beta2)]);
      const v2 = g.op('Add', [g.op('Mul', [v, scalar(g, opt.beta2)]), gsq]);
      const denom = g.op('Add', [g.op('Mul', [g.op('Sqrt', [v2]), invSqrtBc2]), scalar(g, opt.eps)]);
      update = g.op('Mul', [g.op('Div', [m2, denom]), stepSize]);
      newStates = [m2, v2];
    }
    g.output(`${spec.name}__new`, g.op('Sub', [value, update]), 'float32', spec.shape);
    states.forEach((s, i) => g.output(`${s}__new`, newStates[i]!, 'float32', spec.shape));
  }
}

/** torch.optim.Adam: p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps), with bcK = 1 - betaK^step. */
function adamStepScalars(g: GraphBuilder, opt: Extract<OptimizerConfig, { name: 'adam' }>, lr: string, step: string) {
  const one = scalar(g, 1);
  const bc1 = g.op('Sub', [one, g.op('Pow', [scalar(g, opt.beta1), step])]);
  const bc2 = g.op('Sub', [one, g.op('Pow', [scalar(g, opt.beta2), step])]);
  return {
    stepSize: g.op('Div', [lr, bc1]),
    invSqrtBc2: g.op('Reciprocal', [g.op('Sqrt', [bc2])]),
  };
}
