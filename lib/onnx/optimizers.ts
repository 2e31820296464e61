/**
 * Optimizers appended to a train-step graph, one update per parameter. Learning rates and `step` are scalar
 * graph inputs so schedules and resumption need no graph rebuild. Semantics follow torch.optim: SGD and Adam
 * take weight decay as the coupled L2 term (g += wd·p); AdamW decays the parameter itself (p *= 1 - lr·wd).
 * Gradient clipping is torch.nn.utils.clip_grad_norm_ over all parameters, applied before weight decay. Unlike torch,
 * the state is stored without subnormals (withoutSubnormals): values of magnitude 2^-72 and more are left exactly.
 */
import type { GraphBuilder } from './graph.js';
import { reshape, scalar } from './ops.js';
import { DataType, type Dim } from './proto.js';
import { paramSize, type ParamSpec } from './params.js';

/**
 * Parameters whose name starts with `match` (the first group that matches wins) get the group's own
 * learning-rate input `lr__<index>` and, when given, its weight decay. `lr` is the group's base rate, which a
 * schedule scales like the optimizer's; default: the optimizer's `lr`.
 */
export interface ParamGroup { match: string; lr?: number; weightDecay?: number }

interface Common {
  lr: number;
  weightDecay: number;
  /** Max global L2 norm of all gradients; when set, the train step also outputs `grad_norm` (before clipping). */
  clipGradNorm?: number;
  groups?: ParamGroup[];
}
interface AdamHyper { beta1: number; beta2: number; eps: number }

export type OptimizerConfig =
  | ({ name: 'sgd'; momentum: number; nesterov?: boolean } & Common)
  | ({ name: 'adam' } & AdamHyper & Common)
  | ({ name: 'adamw' } & AdamHyper & Common);

/** Graph output carrying the pre-clip global gradient norm when `clipGradNorm` is set. */
export const GRAD_NORM_OUTPUT = 'grad_norm';

const groupLrInput = (index: number): string => `lr__${index}`;

/** The unscheduled rate of each scalar learning-rate input: the base `lr`, then `lr__<i>` for each group. */
export function baseLearningRates(opt: OptimizerConfig): Record<string, number> {
  return Object.fromEntries([['lr', opt.lr], ...(opt.groups ?? []).map((g, i) => [groupLrInput(i), g.lr ?? opt.lr])]);
}

/** Names of the train step's scalar learning-rate inputs, all of which must be fed. */
export function learningRateInputs(opt: OptimizerConfig): string[] {
  return Object.keys(baseLearningRates(opt));
}

/** Throws a message naming the field unless `opt` is usable for a model with these parameters. */
export function checkOptimizer(opt: OptimizerConfig, paramNames: string[]): void {
  if (opt.clipGradNorm !== undefined && !(opt.clipGradNorm > 0)) {
    throw new Error(`optimizer clipGradNorm ${opt.clipGradNorm} must be positive`);
  }
  (opt.groups ?? []).forEach((grp, i) => {
    // A parameter belongs to the first group it matches, so a group shadowed by earlier ones is a mistake too.
    const owns = paramNames.some((n) => n.startsWith(grp.match) && !opt.groups!.slice(0, i).some((e) => n.startsWith(e.match)));
    if (!owns) {
      throw new Error(`optimizer group ${i} (match '${grp.match}') matches no parameter left by earlier groups; parameters: ${paramNames.join(', ')}`);
    }
  });
}

/** Names of the optimizer-state tensors of one parameter; each has the parameter's shape. */
export function optimizerStateNames(param: string, opt: OptimizerConfig): string[] {
  return opt.name === 'sgd' ? [`${param}__mom`] : [`${param}__m`, `${param}__v`];
}

/** The learning-rate input and weight decay of parameter `name`: those of the first group it matches, else the optimizer's. */
export function paramGroupOf(opt: OptimizerConfig, name: string): { lrInput: string; weightDecay: number } {
  const groups = opt.groups ?? [];
  const gi = groups.findIndex((grp) => name.startsWith(grp.match));
  return { lrInput: gi < 0 ? 'lr' : groupLrInput(gi), weightDecay: groups[gi]?.weightDecay ?? opt.weightDecay };
}

export interface ParamToUpdate { spec: ParamSpec; value: string; grad: string }

/**
 * The gradient of rows gathered from a table held outside the graph, which the graph does not update: it is output
 * as `output` (clipped with everything else) and, when clipping, `squaredNorm()` (emits its table gradient's Σ g²)
 * joins the global norm.
 */
export interface HostRowsGradient { output: string; grad: string; squaredNorm: () => string; shape: Dim[] }

export interface AppendedOptimizer {
  /** Name of the graph output holding the pre-clip global gradient norm; set iff clipping is on. */
  gradNorm?: string;
}

/**
 * Declares each parameter's state tensors and each group's `lr__<i>` as graph inputs and emits `<param>__new`,
 * `<state>__new`, each host rows gradient and, with clipping, `grad_norm` outputs (the builder must not emit `grad_norm` itself).
 * `lr` is the base learning-rate value; `step` is the 1-based index of the step being taken (Adam bias correction).
 */
export function appendOptimizer(
  g: GraphBuilder, opt: OptimizerConfig, lr: string, step: string, params: ParamToUpdate[], hostRows: HostRowsGradient[] = [],
): AppendedOptimizer {
  const groups = opt.groups ?? [];
  const groupLr = groups.map((_, i) => g.input(groupLrInput(i), 'float32', []));
  const clipped = opt.clipGradNorm === undefined ? undefined
    : clipByGlobalNorm(g, opt.clipGradNorm, params.map((p) => p.grad), hostRows.map((h) => h.squaredNorm()));
  const adamBc = opt.name === 'sgd' ? undefined : adamBiasCorrections(g, opt, step);

  // lr/bc1 once per learning-rate input rather than once per parameter.
  const stepSizes = new Map<string, string>();
  const stepSize = (rate: string): string => {
    if (!stepSizes.has(rate)) stepSizes.set(rate, toFloat(g, g.op('Div', [toDouble(g, rate), adamBc!.bc1])));
    return stepSizes.get(rate)!;
  };

  // Each parameter's update, its inputs still per parameter; parameters of a group are then updated together.
  const updates = params.map(({ spec, value, grad }, i) => {
    const gi = groups.findIndex((grp) => spec.name.startsWith(grp.match));
    return { spec, value, grad: clipped ? clipped.grads[i]! : grad, rate: gi < 0 ? lr : groupLr[gi]!, wd: groups[gi]?.weightDecay ?? opt.weightDecay,
      states: optimizerStateNames(spec.name, opt).map((s) => g.input(s, 'float32', spec.shape)) };
  });
  const update = ({ rate, wd }: { rate: string; wd: number }, value: string, grad: string, states: string[]) => {
    if (opt.name === 'sgd') return sgdUpdate(g, opt, rate, value, coupledDecay(g, grad, value, wd), states[0]!);
    const decayed = opt.name === 'adamw' && wd ? decoupledDecay(g, value, rate, wd) : value;
    const gr = opt.name === 'adam' ? coupledDecay(g, grad, value, wd) : grad;
    return adamUpdate(g, opt, stepSize(rate), adamBc!.invSqrtBc2, decayed, gr, states as [string, string]);
  };
  for (const members of updatedTogether(updates)) {
    const first = members[0]!;
    const flat = (pick: (u: typeof first) => string) => flattened(g, members.map((u) => ({ value: pick(u), shape: u.spec.shape })));
    const outputs = members.length === 1
      ? [update(first, first.value, first.grad, first.states)]
      : unflattened(g, members.map((u) => u.spec), update(first, flat((u) => u.value), flat((u) => u.grad), first.states.map((_, k) => flat((u) => u.states[k]!))));
    members.forEach(({ spec, states }, i) => {
      g.output(`${spec.name}__new`, outputs[i]!.param, 'float32', spec.shape);
      states.forEach((s, k) => g.output(`${s}__new`, outputs[i]!.states[k]!, 'float32', spec.shape));
    });
  }

  for (const h of hostRows) g.output(h.output, clipped ? g.op('Mul', [h.grad, clipped.coef]) : h.grad, 'float32', h.shape);
  if (!clipped) return {};
  g.output(GRAD_NORM_OUTPUT, clipped.norm, 'float32', []);
  return { gradNorm: GRAD_NORM_OUTPUT };
}

/**
 * Parameters of at most this many values (biases, BatchNorm's scales, small convs' weights) are updated together with
 * the others of their learning rate and weight decay, when there are at least FUSED_UPDATE_MIN_PARAMS of them: their
 * elementwise update (17 ops for Adam) runs once over the concatenated values instead of once per parameter, where each
 * op's kernel costs less than its per-node overhead. Larger ones keep their own ops: for logisticRegression's 7,840
 * weights the copies in and out cost more than the ops they saved (bench/README.md, "One update for the small
 * parameters").
 */
const FUSED_UPDATE_MAX_VALUES = 4096;
/** Fewer small parameters than this are not worth the concatenation and the splits (7 ops of their own). */
const FUSED_UPDATE_MIN_PARAMS = 4;

/** The parameters' updates, each list updated together: the small ones by learning rate and weight decay, where enough, the rest alone. */
function updatedTogether<T extends { spec: ParamSpec; rate: string; wd: number }>(updates: T[]): T[][] {
  const small = new Map<string, T[]>();
  const lists: T[][] = [];
  for (const u of updates) {
    if (paramSize(u.spec) > FUSED_UPDATE_MAX_VALUES) lists.push([u]);
    else {
      const key = `${u.rate} ${u.wd}`;
      if (!small.has(key)) small.set(key, []);
      small.get(key)!.push(u);
    }
  }
  for (const same of small.values()) {
    if (same.length >= FUSED_UPDATE_MIN_PARAMS) lists.push(same);
    else lists.push(...same.map((u) => [u]));
  }
  return lists;
}

/**
 * Values of the given shapes (a parameter's gradient and states have its shape) concatenated, each flattened; a
 * one-dimensional one is taken as it is. A Reshape costs a node's overhead (about 5 µs) however small its tensor, and
 * ResNet's BatchNorm parameters are all [C].
 */
function flattened(g: GraphBuilder, values: { value: string; shape: readonly number[] }[]): string {
  return g.op('Concat', values.map(({ value, shape }) => shape.length === 1 ? value : reshape(g, value, [-1])), { axis: 0 });
}

/** A flat update split back into each parameter's shape. */
function unflattened(g: GraphBuilder, specs: ParamSpec[], flat: { param: string; states: string[] }): { param: string; states: string[] }[] {
  const sizes = g.const('int64', [specs.length], specs.map(paramSize));
  const split = (v: string) => g.opN('Split', [v, sizes], specs.length, { axis: 0 })
    .map((part, i) => specs[i]!.shape.length === 1 ? part : reshape(g, part, specs[i]!.shape));
  const params = split(flat.param);
  const states = flat.states.map(split);
  return specs.map((_, i) => ({ param: params[i]!, states: states.map((s) => s[i]!) }));
}

/** g + wd·p (torch SGD and Adam `weight_decay`). */
function coupledDecay(g: GraphBuilder, grad: string, value: string, wd: number): string {
  return wd ? g.op('Add', [grad, g.op('Mul', [value, scalar(g, wd)])]) : grad;
}

/** p·(1 - lr·wd) (torch AdamW), with the step's scheduled lr. */
function decoupledDecay(g: GraphBuilder, value: string, lr: string, wd: number): string {
  return g.op('Mul', [value, g.op('Sub', [scalar(g, 1), g.op('Mul', [lr, scalar(g, wd)])])]);
}

/** torch.optim.SGD (dampening 0): buf = μ·buf + g; p -= lr·(nesterov ? g + μ·buf : buf). */
function sgdUpdate(
  g: GraphBuilder, opt: Extract<OptimizerConfig, { name: 'sgd' }>, lr: string, value: string, grad: string, mom: string,
) {
  const mu = scalar(g, opt.momentum);
  const buf = g.op('Add', [g.op('Mul', [mom, mu]), grad]);
  const dir = opt.nesterov ? g.op('Add', [grad, g.op('Mul', [buf, mu])]) : buf;
  return { param: g.op('Sub', [value, g.op('Mul', [dir, lr])]), states: [withoutSubnormals(g, buf)] };
}

/** bc1 (float64) and 1/sqrt(bc2) (float32), shared by every parameter group. */
interface BiasCorrections { bc1: string; invSqrtBc2: string }

/**
 * bcK = 1 - betaK^step in float64, rounded to float32 only at the end, as torch computes them as Python floats:
 * in float32, 1 - fround(0.999)^1 is off by 1.3e-5 (cancellation), shifting early Adam steps by ~6e-6.
 */
function adamBiasCorrections(g: GraphBuilder, opt: AdamHyper, step: string): BiasCorrections {
  const one = g.const('float64', [], [1]);
  const t = toDouble(g, step);
  const bc = (beta: number) => g.op('Sub', [one, g.op('Pow', [g.const('float64', [], [beta]), t])]);
  return { bc1: bc(opt.beta1), invSqrtBc2: toFloat(g, g.op('Div', [one, g.op('Sqrt', [bc(opt.beta2)])])) };
}

const toDouble = (g: GraphBuilder, x: string): string => g.op('Cast', [x], { to: DataType.float64 });
const toFloat = (g: GraphBuilder, x: string): string => g.op('Cast', [x], { to: DataType.float32 });

/** torch.optim.Adam: p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps); `value` is already decayed for AdamW. */
function adamUpdate(
  g: GraphBuilder, opt: AdamHyper, stepSize: string, invSqrtBc2: string, value: string, grad: string, [m, v]: [string, string],
) {
  const m2 = g.op('Add', [g.op('Mul', [m, scalar(g, opt.beta1)]), g.op('Mul', [grad, scalar(g, 1 - opt.beta1)])]);
  const gsq = g.op('Mul', [g.op('Mul', [grad, grad]), scalar(g, 1 - opt.beta2)]);
  const v2 = g.op('Add', [g.op('Mul', [v, scalar(g, opt.beta2)]), gsq]);
  const denom = g.op('Add', [g.op('Mul', [g.op('Sqrt', [v2]), invSqrtBc2]), scalar(g, opt.eps)]);
  const update = g.op('Mul', [g.op('Div', [m2, denom]), stepSize]);
  return { param: g.op('Sub', [value, update]), states: [withoutSubnormals(g, m2), withoutSubnormals(g, v2)] };
}

/**
 * 1.5·2^-97, inside the binade whose float32 values are the multiples of 2^-120: (x + C) - C is x itself for every
 * |x| ≥ 2^-72 (half an ulp of x exceeds C), and for |x| ≤ 2^-98 it is x rounded to a multiple of 2^-120, off by at
 * most 2^-121. A decayed state then stops at 0 or at a few times 2^-120 (β·k·2^-120 rounds back to k·2^-120 for small
 * k), where a step's decay by any β ≥ 2^-6 is still normal; a grid of 2^-126 left values stuck at 2^-126, whose
 * decay is subnormal every step.
 */
export const SUBNORMAL_FLUSH = 1.5 * 2 ** -97;

/**
 * Optimizer state without subnormal values, as stored (the step's own update reads it before the flush; the kernels
 * of worker-held tables, table-update-kernel.ts, do the same). Where a parameter's gradient stays 0 (a dead ReLU unit,
 * an input pixel that is always 0, a table row no batch touches in a dense update), its momentum decays by β1 a step
 * into float32's subnormal range (in about 700 steps for Adam's 0.9) and stays there, since 0.9 × the smallest
 * subnormal rounds back to itself. Intel CPUs multiply and divide subnormals through microcode assists: the mlp's
 * step at batch 256 took 1.7 ms before its dead units' momentum got there and 2.7 ms after, for good, and DLRM's
 * dense table updates slowed its raw loop from 52k to 30k samples/s. ONNX Runtime's `session.set_denormal_as_zero`
 * reaches its pools' threads and, once per process, the thread that creates the first session, so a one-thread
 * session's caller may never get it: the state is flushed here, in two elementwise passes (a compare and select took
 * three slower ones).
 */
function withoutSubnormals(g: GraphBuilder, x: string): string {
  const c = scalar(g, SUBNORMAL_FLUSH);
  return g.op('Sub', [g.op('Add', [x, c]), c]);
}

/** torch clip_grad_norm_: norm = sqrt(Σ ||g||²); every g *= min(1, max/(norm + 1e-6)). `extraSquares`: other Σ g² terms. */
function clipByGlobalNorm(
  g: GraphBuilder, maxNorm: number, grads: string[], extraSquares: string[],
): { norm: string; coef: string; grads: string[] } {
  const squares = [...grads.map((gr) => g.op('ReduceSumSquare', [gr], { keepdims: 0 })), ...extraSquares];
  const norm = g.op('Sqrt', [g.op('Sum', squares)]);
  const coef = g.op('Min', [scalar(g, 1), g.op('Div', [scalar(g, maxNorm), g.op('Add', [norm, scalar(g, 1e-6)])])]);
  return { norm, coef, grads: grads.map((gr) => g.op('Mul', [gr, coef])) };
}
