/**
 * Checks the hand-built MLP graphs against independent references: parameter gradients against central
 * finite differences of the graph's own loss, losses and logits against a float64 JS forward pass, and
 * one optimizer step against the torch.optim update formulas.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { buildInference, buildTrainStep, modelParameters } from '../../lib/onnx/models/build.js';
import { mlpModel, type MlpConfig } from '../../lib/onnx/models/mlp.js';
import { optimizerStateNames, type OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { paramSize } from '../../lib/onnx/params.js';
import { createRng, type Rng } from '../../lib/rng.js';

type Params = Record<string, Float32Array>;
const mlpParameters = (cfg: MlpConfig) => modelParameters(mlpModel(cfg)).params;
const SGD: OptimizerConfig = { name: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0 };
const SESSION_OPTS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };

interface Problem { cfg: MlpConfig; params: Params; x: Float32Array; y: Int32Array; w: Float32Array; batch: number }

function problem(cfg: MlpConfig, seed: number, batch = 4): Problem {
  const rng = createRng(seed);
  const params: Params = {};
  for (const s of mlpParameters(cfg)) {
    params[s.name] = Float32Array.from({ length: paramSize(s) }, () => rng.uniform(-1, 1) / Math.sqrt(s.fanIn) * 1.5);
  }
  return {
    cfg, params, batch,
    x: Float32Array.from({ length: batch * cfg.inputSize }, () => rng.uniform(-2, 2)),
    y: Int32Array.from({ length: batch }, () => rng.int(cfg.numClasses)),
    w: Float32Array.from({ length: batch }, (_, i) => [0.5, 2, 1, 0.25][i % 4]!),
  };
}

/** float64 forward pass: hidden activations and logits per sample. */
function jsForward(p: Problem): { logits: number[][]; embedding: number[][] } {
  const specs = mlpParameters(p.cfg);
  const logits: number[][] = [];
  const embedding: number[][] = [];
  for (let b = 0; b < p.batch; b++) {
    let h = Array.from(p.x.subarray(b * p.cfg.inputSize, (b + 1) * p.cfg.inputSize));
    for (let l = 0; l < specs.length; l += 2) {
      const W = p.params[specs[l]!.name]!;
      const bias = p.params[specs[l + 1]!.name]!;
      const [out, inp] = specs[l]!.shape as [number, number];
      const z = Array.from({ length: out }, (_, o) => bias[o]! + h.reduce((a, v, i) => a + W[o * inp + i]! * v, 0));
      const last = l + 2 === specs.length;
      if (last) embedding.push(h);
      h = last ? z : z.map((v) => Math.max(v, 0));
    }
    logits.push(h);
  }
  return { logits, embedding };
}

function jsPerSampleLoss(p: Problem): number[] {
  return jsForward(p).logits.map((row, b) => {
    const m = Math.max(...row);
    return m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) - row[p.y[b]!]!;
  });
}

/** A random direction of unit length over all parameters. */
function randomDirection(rng: Rng, params: Params): Params {
  const dir = Object.fromEntries(Object.entries(params).map(([n, v]) => [n, Float64Array.from(v, () => rng.normal())]));
  const norm = Math.sqrt(Object.values(dir).reduce((a, v) => a + v.reduce((s, x) => s + x * x, 0), 0));
  return Object.fromEntries(Object.entries(dir).map(([n, v]) => [n, Float32Array.from(v, (x) => x / norm)]));
}

/** Runs the train-step graph; `lr` 0 leaves the parameters unchanged, so it evaluates loss and gradients only. */
class TrainStep {
  private constructor(private readonly s: ort.InferenceSession, private readonly p: Problem, private readonly opt: OptimizerConfig) {}

  static async create(p: Problem, opt: OptimizerConfig = SGD): Promise<TrainStep> {
    const bytes = buildTrainStep(mlpModel(p.cfg), opt, { emitGradients: true });
    return new TrainStep(await ort.InferenceSession.create(bytes, SESSION_OPTS), p, opt);
  }

  async run(params: Params, opts: { lr?: number; step?: number; state?: Params; w?: Float32Array } = {}) {
    const feeds: Record<string, ort.Tensor> = {
      x: new ort.Tensor('float32', this.p.x, [this.p.batch, this.p.cfg.inputSize]),
      y: new ort.Tensor('int64', BigInt64Array.from(this.p.y, BigInt), [this.p.batch]),
      w: new ort.Tensor('float32', opts.w ?? this.p.w, [this.p.batch]),
      lr: new ort.Tensor('float32', [opts.lr ?? 0], []),
      step: new ort.Tensor('float32', [opts.step ?? 1], []),
      rng_seed: new ort.Tensor('float32', [0], []),
    };
    for (const s of mlpParameters(this.p.cfg)) {
      feeds[s.name] = new ort.Tensor('float32', params[s.name]!, s.shape);
      for (const n of optimizerStateNames(s.name, this.opt)) {
        feeds[n] = new ort.Tensor('float32', opts.state?.[n] ?? new Float32Array(paramSize(s)), s.shape);
      }
    }
    const out = await this.s.run(feeds);
    const data = (n: string) => out[n]!.data as Float32Array;
    return { loss: data('loss')[0]!, perSample: data('per_sample_loss'), out: data };
  }

  async loss(params: Params): Promise<number> {
    return (await this.run(params)).loss;
  }
}

function shifted(params: Params, dir: Params, eps: number): Params {
  return Object.fromEntries(Object.entries(params).map(([n, v]) => [n, Float32Array.from(v, (x, i) => x + eps * dir[n]![i]!)]));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

for (const cfg of [{ inputSize: 6, hidden: [5], numClasses: 3 }, { inputSize: 6, hidden: [5, 4], numClasses: 3 }]) {
  describe(`MLP ${cfg.inputSize}-${cfg.hidden.join('-')}-${cfg.numClasses} train-step graph`, () => {
    const p = problem(cfg, 7);
    // float32 central differences: eps large enough to beat rounding, small enough for curvature and ReLU kinks.
    const eps = 1e-2;

    it('gradients match finite differences along a random direction', async () => {
      const step = await TrainStep.create(p);
      const { out } = await step.run(p.params);
      const dir = randomDirection(createRng(99), p.params);
      const analytic = Object.keys(dir).reduce((a, n) => a + out(`${n}__grad`).reduce((s, g, i) => s + g * dir[n]![i]!, 0), 0);
      const numeric = ((await step.loss(shifted(p.params, dir, eps))) - (await step.loss(shifted(p.params, dir, -eps)))) / (2 * eps);
      const rel = Math.abs(analytic - numeric) / Math.max(Math.abs(analytic), Math.abs(numeric));
      assert.ok(rel < 2e-3, `directional derivative: analytic ${analytic}, numeric ${numeric}, rel ${rel}`);
    });

    it('per-coordinate gradients match finite differences (median relative error)', async () => {
      const step = await TrainStep.create(p);
      const { out } = await step.run(p.params);
      const errors: number[] = [];
      for (const s of mlpParameters(cfg)) {
        const grad = out(`${s.name}__grad`);
        assert.equal(grad.length, paramSize(s));
        for (let i = 0; i < grad.length; i++) {
          const dir = Object.fromEntries(Object.entries(p.params).map(([n, v]) => [n, new Float32Array(v.length)]));
          dir[s.name]![i] = 1;
          const numeric = ((await step.loss(shifted(p.params, dir, eps))) - (await step.loss(shifted(p.params, dir, -eps)))) / (2 * eps);
          errors.push(Math.abs(grad[i]! - numeric) / Math.max(Math.abs(grad[i]!), Math.abs(numeric), 1e-3));
        }
      }
      // Measured: median ~5e-5, worst ~7e-3 (a ReLU kink within eps); tolerances leave headroom for platform rounding.
      assert.ok(median(errors) < 1e-3, `median relative error ${median(errors)}`);
      assert.ok(Math.max(...errors) < 5e-2, `worst coordinate relative error ${Math.max(...errors)}`);
    });

    it('per_sample_loss and weighted loss match a float64 JS reference', async () => {
      const step = await TrainStep.create(p);
      const { loss, perSample } = await step.run(p.params);
      const ref = jsPerSampleLoss(p);
      ref.forEach((r, i) => assert.ok(Math.abs(perSample[i]! - r) < 1e-5 * Math.max(1, r), `sample ${i}: ${perSample[i]} vs ${r}`));
      const wsum = p.w.reduce((a, v) => a + v, 0);
      const refLoss = ref.reduce((a, r, i) => a + p.w[i]! * r, 0) / wsum;
      assert.ok(Math.abs(loss - refLoss) < 1e-5 * Math.max(1, refLoss), `loss ${loss} vs ${refLoss}`);
    });

    it('all-zero sample weights give loss 0 and zero gradients, not NaN', async () => {
      const step = await TrainStep.create(p);
      const { loss, out } = await step.run(p.params, { w: new Float32Array(p.batch) });
      assert.equal(loss, 0);
      for (const s of mlpParameters(cfg)) assert.ok(out(`${s.name}__grad`).every((g) => g === 0));
    });

    it('inference graph logits and embedding equal a JS forward pass, with and without embedded weights', async () => {
      const ref = jsForward(p);
      const embedded = await ort.InferenceSession.create(buildInference(mlpModel(cfg), p.params), SESSION_OPTS);
      assert.deepEqual(embedded.inputNames, ['x']);
      assert.deepEqual([...embedded.outputNames].sort(), ['embedding', 'output']);
      const asInputs = await ort.InferenceSession.create(buildInference(mlpModel(cfg)), SESSION_OPTS);
      const x = new ort.Tensor('float32', p.x, [p.batch, cfg.inputSize]);
      const params = Object.fromEntries(mlpParameters(cfg).map((s) => [s.name, new ort.Tensor('float32', p.params[s.name]!, s.shape)]));
      for (const out of [await embedded.run({ x }), await asInputs.run({ x, ...params })]) {
        assert.deepEqual(out.output!.dims, [p.batch, cfg.numClasses]);
        assert.deepEqual(out.embedding!.dims, [p.batch, cfg.hidden.at(-1)!]);
        const logits = out.output!.data as Float32Array;
        const emb = out.embedding!.data as Float32Array;
        ref.logits.flat().forEach((v, i) => assert.ok(Math.abs(logits[i]! - v) < 1e-5, `logit ${i}: ${logits[i]} vs ${v}`));
        ref.embedding.flat().forEach((v, i) => assert.ok(Math.abs(emb[i]! - v) < 1e-5, `embedding ${i}: ${emb[i]} vs ${v}`));
      }
    });
  });
}

describe('optimizer updates', () => {
  const cfg = { inputSize: 6, hidden: [5], numClasses: 3 };
  const p = problem(cfg, 11);
  const rng = createRng(5);
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 + 1e-5 * Math.abs(b), `${what}: ${a} vs ${b}`);

  it('SGD with momentum and weight decay follows torch.optim.SGD', async () => {
    const opt: OptimizerConfig = { name: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.01 };
    const step = await TrainStep.create(p, opt);
    const grads = (await step.run(p.params)).out;
    const state = Object.fromEntries(Object.entries(p.params).map(([n, v]) => [`${n}__mom`, Float32Array.from(v, () => rng.normal())]));
    const { out } = await step.run(p.params, { lr: 0.05, state });
    for (const [n, v] of Object.entries(p.params)) {
      v.forEach((pv, i) => {
        const g = grads(`${n}__grad`)[i]! + 0.01 * pv;
        const mom = 0.9 * state[`${n}__mom`]![i]! + g;
        close(out(`${n}__mom__new`)[i]!, mom, `${n}__mom[${i}]`);
        close(out(`${n}__new`)[i]!, pv - 0.05 * mom, `${n}[${i}]`);
      });
    }
  });

  it('Adam with weight decay follows torch.optim.Adam, bias correction from `step`', async () => {
    const opt: OptimizerConfig = { name: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    const step = await TrainStep.create(p, opt);
    const grads = (await step.run(p.params)).out;
    const state: Params = {};
    for (const [n, v] of Object.entries(p.params)) {
      state[`${n}__m`] = Float32Array.from(v, () => 0.1 * rng.normal());
      state[`${n}__v`] = Float32Array.from(v, () => 0.01 * rng.next());
    }
    const t = 3;
    const { out } = await step.run(p.params, { lr: 0.02, step: t, state });
    for (const [n, v] of Object.entries(p.params)) {
      v.forEach((pv, i) => {
        const g = grads(`${n}__grad`)[i]! + 0.01 * pv;
        const m = 0.9 * state[`${n}__m`]![i]! + 0.1 * g;
        const vv = 0.999 * state[`${n}__v`]![i]! + 0.001 * g * g;
        const update = (0.02 / (1 - 0.9 ** t)) * m / (Math.sqrt(vv) / Math.sqrt(1 - 0.999 ** t) + 1e-8);
        close(out(`${n}__m__new`)[i]!, m, `${n}__m[${i}]`);
        close(out(`${n}__v__new`)[i]!, vv, `${n}__v[${i}]`);
        close(out(`${n}__new`)[i]!, pv - update, `${n}[${i}]`);
      });
    }
  });
});

describe('inference graph without hidden layers', () => {
  it('embedding is the input itself', async () => {
    const cfg = { inputSize: 4, hidden: [], numClasses: 2 };
    const p = problem(cfg, 3, 3);
    const s = await ort.InferenceSession.create(buildInference(mlpModel(cfg), p.params), SESSION_OPTS);
    const out = await s.run({ x: new ort.Tensor('float32', p.x, [3, 4]) });
    assert.deepEqual(out.embedding!.data, p.x);
    const ref = jsForward(p).logits.flat();
    (out.output!.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - ref[i]!) < 1e-5));
  });
});
