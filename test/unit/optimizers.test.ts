/**
 * In-graph optimizers against a float64 JS transcription of torch.optim (SGD, Adam, AdamW) and
 * torch.nn.utils.clip_grad_norm_, over several steps of real ORT sessions. The gradient is built directly
 * in the graph, g = w ⊙ (p − target) with fixed w and target, so the reference knows it exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../../lib/onnx/graph.js';
import {
  appendOptimizer, checkOptimizer, learningRateInputs, optimizerStateNames, type OptimizerConfig,
} from '../../lib/onnx/optimizers.js';
import { paramSize, type ParamSpec } from '../../lib/onnx/params.js';
import { createRng } from '../../lib/rng.js';
import { learningRatesAt, type ScheduleConfig } from '../../lib/train/schedules.js';

const SPECS: ParamSpec[] = [
  { name: 'emb.table', shape: [4, 3], fanIn: 3, init: 'zeros' },
  { name: 'top.fc.weight', shape: [2, 3], fanIn: 3, init: 'zeros' },
  { name: 'top.fc.bias', shape: [2], fanIn: 3, init: 'zeros' },
  { name: 'bottom.w', shape: [5], fanIn: 5, init: 'zeros' },
];
const STEPS = 5;
/**
 * float32 graph vs float64 reference over STEPS steps, relative to the entry or, for entries near zero after
 * cancellation (p − lr·g ≈ 0), to the tensor's largest entry; measured worst ~3e-7.
 */
const REL_TOL = 1e-6;

type Tensors = Record<string, Float64Array>;

/** Fixed per-coordinate gradient scales and targets, spread over orders of magnitude so Adam's v matters. */
const problem = (() => {
  const rng = createRng(31);
  const draw = (lo: number, hi: number) => Object.fromEntries(SPECS.map((s) => [s.name, Float32Array.from({ length: paramSize(s) }, () => rng.uniform(lo, hi))]));
  const scale = Object.fromEntries(Object.entries(draw(-2, 1)).map(([n, v]) => [n, v.map((e) => 10 ** e)]));
  return { scale, target: draw(-1, 1), init: draw(-2, 2) };
})();

function buildStep(opt: OptimizerConfig, specs = SPECS): { bytes: Uint8Array; gradNorm?: string; ops: string[] } {
  const g = new GraphBuilder('optimizer_test');
  const lr = g.input('lr', 'float32', []);
  const step = g.input('step', 'float32', []);
  const params = specs.map((spec) => {
    const value = g.input(spec.name, 'float32', spec.shape);
    const w = g.const('float32', spec.shape, problem.scale[spec.name]!);
    const target = g.const('float32', spec.shape, problem.target[spec.name]!);
    return { spec, value, grad: g.op('Mul', [w, g.op('Sub', [value, target])]) };
  });
  const { gradNorm } = appendOptimizer(g, opt, lr, step, params);
  return { bytes: g.toBytes(), gradNorm, ops: g.toGraph().node.map((n) => n.op_type) };
}

/** One step of torch.optim in float64; returns the pre-clip global gradient norm. */
function referenceStep(opt: OptimizerConfig, p: Tensors, state: Tensors, lrs: Record<string, number>, t: number): number {
  const grads: Tensors = Object.fromEntries(SPECS.map(({ name }) => [name, p[name]!.map((v, i) => problem.scale[name]![i]! * (v - problem.target[name]![i]!))]));
  const norm = Math.sqrt(Object.values(grads).reduce((a, g) => a + g.reduce((s, x) => s + x * x, 0), 0));
  if (opt.clipGradNorm !== undefined) {
    const coef = Math.min(1, opt.clipGradNorm / (norm + 1e-6));
    for (const g of Object.values(grads)) g.forEach((x, i) => { g[i] = x * coef; });
  }
  for (const { name } of SPECS) {
    const gi = (opt.groups ?? []).findIndex((grp) => name.startsWith(grp.match));
    const lr = lrs[gi < 0 ? 'lr' : `lr__${gi}`]!;
    const wd = opt.groups?.[gi]?.weightDecay ?? opt.weightDecay;
    const v = p[name]!;
    grads[name]!.forEach((g0, i) => {
      if (opt.name === 'sgd') {
        const d = g0 + wd * v[i]!;
        const buf = (state[`${name}__mom`]![i] = opt.momentum * state[`${name}__mom`]![i]! + d);
        v[i] = v[i]! - lr * (opt.nesterov ? d + opt.momentum * buf : buf);
        return;
      }
      const d = opt.name === 'adam' ? g0 + wd * v[i]! : g0;
      if (opt.name === 'adamw') v[i] = v[i]! * (1 - lr * wd);
      const m = (state[`${name}__m`]![i] = opt.beta1 * state[`${name}__m`]![i]! + (1 - opt.beta1) * d);
      const vv = (state[`${name}__v`]![i] = opt.beta2 * state[`${name}__v`]![i]! + (1 - opt.beta2) * d * d);
      const bc1 = 1 - opt.beta1 ** t;
      const bc2 = 1 - opt.beta2 ** t;
      v[i] = v[i]! - (lr / bc1) * (m / (Math.sqrt(vv) / Math.sqrt(bc2) + opt.eps));
    });
  }
  return norm;
}

interface Trace { params: Record<string, Float32Array>[]; gradNorms: number[] }

/** Runs STEPS graph steps and the reference side by side, asserting agreement after every step. */
async function compareWithTorch(opt: OptimizerConfig, schedule?: ScheduleConfig): Promise<Trace> {
  const { bytes, gradNorm } = buildStep(opt);
  assert.equal(gradNorm, opt.clipGradNorm === undefined ? undefined : 'grad_norm');
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const stateNames = SPECS.flatMap((s) => optimizerStateNames(s.name, opt).map((n) => [n, s] as const));
  let feeds: Record<string, ort.Tensor> = {};
  for (const s of SPECS) feeds[s.name] = new ort.Tensor('float32', problem.init[s.name]!.slice(), s.shape);
  for (const [n, s] of stateNames) feeds[n] = new ort.Tensor('float32', new Float32Array(paramSize(s)), s.shape);
  const refP: Tensors = Object.fromEntries(SPECS.map((s) => [s.name, Float64Array.from(problem.init[s.name]!)]));
  const refState: Tensors = Object.fromEntries(stateNames.map(([n, s]) => [n, new Float64Array(paramSize(s))]));
  const trace: Trace = { params: [], gradNorms: [] };

  for (let k = 0; k < STEPS; k++) {
    // The graph sees float32 learning rates; so does the reference.
    const lrs = Object.fromEntries(Object.entries(learningRatesAt(opt, schedule, k)).map(([n, v]) => [n, Math.fround(v)]));
    for (const [n, v] of Object.entries(lrs)) feeds[n] = new ort.Tensor('float32', [v], []);
    feeds.step = new ort.Tensor('float32', [k + 1], []);
    const out = await session.run(feeds);
    const refNorm = referenceStep(opt, refP, refState, lrs, k + 1);

    const check = (name: string, got: Float32Array, want: Float64Array) => {
      const scale = Math.max(...want.map(Math.abs));
      want.forEach((w, i) => {
        const err = Math.abs(got[i]! - w) / Math.max(Math.abs(w), scale, 1e-30);
        assert.ok(err <= REL_TOL, `${opt.name} step ${k + 1} ${name}[${i}]: graph ${got[i]} vs torch ${w} (rel ${err.toExponential(2)})`);
      });
    };
    for (const s of SPECS) check(s.name, out[`${s.name}__new`]!.data as Float32Array, refP[s.name]!);
    for (const [n] of stateNames) check(n, out[`${n}__new`]!.data as Float32Array, refState[n]!);
    if (gradNorm) {
      const got = (out[gradNorm]!.data as Float32Array)[0]!;
      assert.ok(Math.abs(got - refNorm) <= REL_TOL * refNorm, `grad_norm ${got} vs ${refNorm}`);
      trace.gradNorms.push(got);
    }
    trace.params.push(Object.fromEntries(SPECS.map((s) => [s.name, out[`${s.name}__new`]!.data as Float32Array])));

    const next: Record<string, ort.Tensor> = {};
    for (const s of SPECS) next[s.name] = out[`${s.name}__new`]!;
    for (const [n] of stateNames) next[n] = out[`${n}__new`]!;
    feeds = next;
  }
  return trace;
}

const adamHyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

describe('optimizers follow torch.optim over several steps', () => {
  it('SGD without momentum', async () => { await compareWithTorch({ name: 'sgd', lr: 0.05, momentum: 0, weightDecay: 0 }); });
  it('SGD with momentum and weight decay', async () => { await compareWithTorch({ name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.01 }); });
  it('SGD with Nesterov momentum and weight decay', async () => {
    await compareWithTorch({ name: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
  });
  it('Adam with coupled L2 weight decay', async () => { await compareWithTorch({ name: 'adam', lr: 0.01, ...adamHyper, weightDecay: 0.05 }); });
  it('AdamW with decoupled weight decay, under a schedule', async () => {
    await compareWithTorch({ name: 'adamw', lr: 0.01, ...adamHyper, weightDecay: 0.1 }, { kind: 'cosine', totalSteps: 6, warmupSteps: 2 });
  });

  it('AdamW is not Adam with weight decay: the same settings update differently, each as torch does', async () => {
    const adam = await compareWithTorch({ name: 'adam', lr: 0.01, ...adamHyper, weightDecay: 0.1 });
    const adamw = await compareWithTorch({ name: 'adamw', lr: 0.01, ...adamHyper, weightDecay: 0.1 });
    assert.notDeepEqual(adam.params.at(-1), adamw.params.at(-1));
  });
});

describe('small parameters updated together', () => {
  /** STEPS steps of `specs` alone in their graph; the parameters and states after each, by name. */
  async function run(opt: OptimizerConfig, specs: ParamSpec[], concatenated: boolean): Promise<Record<string, Float32Array>[]> {
    const { bytes, ops } = buildStep(opt, specs);
    assert.equal(ops.includes('Concat'), concatenated, `${specs.length} parameters updated ${concatenated ? 'together' : 'alone'}`);
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const names = specs.flatMap((s) => [[s.name, s] as const, ...optimizerStateNames(s.name, opt).map((n) => [n, s] as const)]);
    let feeds: Record<string, ort.Tensor> = Object.fromEntries(names.map(([n, s]) => [n, new ort.Tensor('float32', n === s.name ? problem.init[n]!.slice() : new Float32Array(paramSize(s)), s.shape)]));
    const steps: Record<string, Float32Array>[] = [];
    for (let k = 0; k < STEPS; k++) {
      for (const n of learningRateInputs(opt)) feeds[n] = new ort.Tensor('float32', [opt.lr], []);
      feeds.step = new ort.Tensor('float32', [k + 1], []);
      const out = await session.run(feeds);
      feeds = Object.fromEntries(names.map(([n]) => [n, out[`${n}__new`]!]));
      steps.push(Object.fromEntries(names.map(([n]) => [n, out[`${n}__new`]!.data as Float32Array])));
    }
    return steps;
  }

  it('parameters of different learning rates or weight decays are not updated together, nor fewer than four', async () => {
    await run({ name: 'adam', lr: 0.01, ...adamHyper, weightDecay: 0, groups: [{ match: 'top.', lr: 0.002 }] }, SPECS, false);
    await run({ name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0, groups: [{ match: 'emb.', weightDecay: 0.1 }] }, SPECS, false);
    await run({ name: 'adam', lr: 0.01, ...adamHyper, weightDecay: 0 }, SPECS.slice(1), false);
  });

  for (const opt of [
    { name: 'adam', lr: 0.01, ...adamHyper, weightDecay: 0.05 },
    { name: 'adamw', lr: 0.01, ...adamHyper, weightDecay: 0.01 },
    { name: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
  ] satisfies OptimizerConfig[]) {
    it(`${opt.name}: in one concatenated update, each parameter and state gets the bits of its update alone`, async () => {
      const together = await run(opt, SPECS, true);
      const alone = await Promise.all(SPECS.map((spec) => run(opt, [spec], false)));
      together.forEach((step, k) => {
        for (const [name, values] of Object.entries(step)) {
          const own = alone.find((a) => name in a[k]!)![k]![name]!;
          assert.deepEqual(values, own, `${opt.name} step ${k + 1} ${name}`);
        }
      });
    });
  }
});

describe('global-norm gradient clipping', () => {
  const sgd: OptimizerConfig = { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.01 };

  it('scales gradients down when the norm is above the threshold, and outputs the pre-clip norm', async () => {
    const { gradNorms } = await compareWithTorch({ ...sgd, clipGradNorm: 0.5 });
    assert.ok(gradNorms.every((n) => n > 0.5), `norms ${gradNorms}`);
    await compareWithTorch({ name: 'adam', lr: 0.01, ...adamHyper, weightDecay: 0.01, clipGradNorm: 0.5 });
  });

  it('leaves gradients bit-identical when the norm is below the threshold', async () => {
    const clipped = await compareWithTorch({ ...sgd, clipGradNorm: 1e6 });
    const plain = await compareWithTorch(sgd);
    assert.deepEqual(clipped.params, plain.params);
  });
});

describe('parameter groups', () => {
  // emb.* own lr and no decay; top.fc.bias the base lr without decay (first match wins over 'top.'); other top.* own lr.
  const groups = [
    { match: 'emb.', lr: 0.1, weightDecay: 0 },
    { match: 'top.fc.bias', weightDecay: 0 },
    { match: 'top.', lr: 0.002, weightDecay: 0.2 },
  ];

  it('each group gets its own lr__<i> input, learning rate and weight decay (SGD and Adam)', async () => {
    const sgd: OptimizerConfig = { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.01, groups };
    assert.deepEqual(learningRateInputs(sgd), ['lr', 'lr__0', 'lr__1', 'lr__2']);
    const session = await ort.InferenceSession.create(buildStep(sgd).bytes);
    assert.ok(learningRateInputs(sgd).every((n) => session.inputNames.includes(n)));
    await compareWithTorch(sgd, { kind: 'step', every: 2, gamma: 0.5 });
    await compareWithTorch({ name: 'adamw', lr: 0.01, ...adamHyper, weightDecay: 0.01, groups, clipGradNorm: 1 });
  });

  it('rejects groups that match no parameter and non-positive clipping thresholds', () => {
    const names = SPECS.map((s) => s.name);
    const base: OptimizerConfig = { name: 'sgd', lr: 0.1, momentum: 0, weightDecay: 0 };
    assert.throws(() => checkOptimizer({ ...base, groups: [{ match: 'head.' }] }, names), /group 0 \(match 'head\.'\) matches no parameter/);
    assert.throws(() => checkOptimizer({ ...base, groups: [{ match: 'top.' }, { match: 'top.fc.' }] }, names), /group 1/);
    assert.throws(() => checkOptimizer({ ...base, clipGradNorm: 0 }, names), /clipGradNorm 0/);
    checkOptimizer({ ...base, groups, clipGradNorm: 1 }, names);
  });
});

describe('optimizer state without subnormals', () => {
  const GRID = 2 ** -120;
  const isSubnormal = (x: number) => x !== 0 && Math.abs(x) < 2 ** -126;
  /** Momentum values from normal down to the smallest subnormal, both signs; the gradient is 0 throughout. */
  const start = Float32Array.from([1e-3, -2.5e-20, 2 ** -72, -(2 ** -71), 3e-30, 1e-37, 2 ** -126, 1e-40, -(2 ** -149), 2 ** -149, -1e-39]);
  const spec: ParamSpec = { name: 'p', shape: [start.length], fanIn: 1, init: 'zeros' };

  async function deadParameter(opt: OptimizerConfig) {
    const g = new GraphBuilder('dead_parameter');
    const value = g.input('p', 'float32', spec.shape);
    appendOptimizer(g, opt, g.input('lr', 'float32', []), g.input('step', 'float32', []), [{ spec, value, grad: g.const('float32', spec.shape, new Float32Array(start.length)) }]);
    const session = await ort.InferenceSession.create(g.toBytes(), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const states = optimizerStateNames('p', opt);
    let feeds: Record<string, ort.Tensor> = {
      p: new ort.Tensor('float32', new Float32Array(start.length).fill(0.5), spec.shape),
      lr: new ort.Tensor('float32', [0.01], []),
      ...Object.fromEntries(states.map((n) => [n, new ort.Tensor('float32', start.slice(), spec.shape)])),
    };
    const step = async (t: number) => {
      const out = await session.run({ ...feeds, step: new ort.Tensor('float32', [t], []) });
      feeds = { ...feeds, ...Object.fromEntries(states.map((n) => [n, out[`${n}__new`]!])) };
      return Object.fromEntries(states.map((n) => [n, out[`${n}__new`]!.data as Float32Array]));
    };
    return { states, step };
  }

  const adam: OptimizerConfig = { name: 'adam', lr: 0.01, ...adamHyper, weightDecay: 0 };
  for (const opt of [adam, { name: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 0 }] as OptimizerConfig[]) {
    it(`${opt.name}: a decayed state keeps every value of 2^-72 or more bit for bit, and rounds the rest to a multiple of 2^-120`, async () => {
      const { states, step } = await deadParameter(opt);
      const out = await step(1);
      const decay = (n: string) => Math.fround(opt.name === 'sgd' ? opt.momentum : n.endsWith('__m') ? opt.beta1 : opt.beta2);
      for (const n of states) {
        out[n]!.forEach((got, i) => {
          const exact = Math.fround(start[i]! * decay(n));
          if (Math.abs(exact) >= 2 ** -72) assert.equal(got, exact, `${n}[${i}]`);
          else assert.ok(Number.isInteger(got / GRID) && Math.abs(got - exact) <= GRID / 2, `${n}[${i}]: ${got} for ${exact}`);
        });
      }
    });
  }

  it('the state of a parameter whose gradient stays 0 settles at 0 or at least 2^-120, never subnormal (torch settles at subnormals)', async () => {
    const { states, step } = await deadParameter(adam);
    for (let t = 1; t <= 1000; t++) {
      const out = await step(t);
      for (const n of states) assert.ok(!out[n]!.some(isSubnormal), `step ${t} ${n}: ${out[n]}`);
      if (t === 1000) for (const n of states) assert.ok(out[n]!.every((x) => x === 0 || Math.abs(x) >= GRID), `${n}: ${out[n]}`);
    }
  });
});
