/**
 * The K-steps-per-run train graph (ONNX Scan over stacked batches) against K runs of the single-step graph:
 * parameters, buffers and optimizer state must agree bit for bit, and the stacked losses step by step.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import ort from 'onnxruntime-node';
import { relu } from '../../lib/onnx/layers/activations.js';
import { batchNorm } from '../../lib/onnx/layers/batchnorm.js';
import { dropout } from '../../lib/onnx/layers/dropout.js';
import { linear } from '../../lib/onnx/layers/linear.js';
import { buildTrainStep, modelParameters } from '../../lib/onnx/models/build.js';
import { mlpModel } from '../../lib/onnx/models/mlp.js';
import type { ModelDefinition } from '../../lib/onnx/models/model.js';
import { buildMultiStepTrainStep } from '../../lib/onnx/models/multi-step.js';
import { baseLearningRates, optimizerStateNames, type OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { initialValue, paramSize } from '../../lib/onnx/params.js';
import { createRng } from '../../lib/rng.js';
import type { Batch } from '../../lib/data/batch.js';
import type { ModelState } from '../../lib/train/model-state.js';
import { initModelState } from '../../lib/train/model-state.js';
import { rngSeedAt } from '../../lib/train/schedules.js';
import { trainModel, type TrainProgress } from '../../lib/train/trainer.js';

const SESSION_OPTS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };
const B = 8;
const FEATURES = 6;
const CLASSES = 3;
const K = 4;

/** Linear → BatchNorm1d (running-stat buffers) → ReLU → Dropout (rng_seed) → Linear. */
function bnDropoutModel(): ModelDefinition {
  return {
    architecture: 'bn_dropout',
    inputs: [{ name: 'x', dtype: 'float32', shape: ['B', FEATURES] }],
    loss: 'softmax-ce',
    outputSize: CLASSES,
    forward(t, { x }) {
      const h = relu(t, batchNorm(t, 'bn1', linear(t, 'fc1', x!, 5)));
      const output = linear(t, 'fc2', dropout(t, 'drop', h, 0.3), CLASSES);
      return { output, embedding: h, embeddingSize: 5 };
    },
  };
}

const ADAM: OptimizerConfig = {
  name: 'adamw', lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipGradNorm: 1,
  groups: [{ match: 'fc2', lr: 0.02 }],
};
const SGD: OptimizerConfig = { name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 };

interface StepData { x: Float32Array; y: BigInt64Array; w: Float32Array; lrs: Record<string, number>; step: number; seed: number }

function steps(opt: OptimizerConfig, n: number): StepData[] {
  const rng = createRng(7);
  return Array.from({ length: n }, (_, i) => ({
    x: Float32Array.from({ length: B * FEATURES }, () => rng.uniform(-2, 2)),
    y: BigInt64Array.from({ length: B }, () => BigInt(rng.int(CLASSES))),
    w: Float32Array.from({ length: B }, () => rng.uniform(0.5, 1.5)),
    // A varying schedule, so a slice taken from the wrong iteration would show.
    lrs: Object.fromEntries(Object.entries(baseLearningRates(opt)).map(([k, v]) => [k, v * (1 - 0.1 * i)])),
    step: 11 + i,
    seed: rngSeedAt(3, 11 + i),
  }));
}

/** Parameters, buffers (non-default running stats) and optimizer state (non-zero, as mid-training). */
function initialState(def: ModelDefinition, opt: OptimizerConfig): Record<string, ort.Tensor> {
  const rng = createRng(1);
  const { params, buffers } = modelParameters(def);
  const state: Record<string, ort.Tensor> = {};
  for (const s of [...params, ...buffers]) state[s.name] = new ort.Tensor('float32', initialValue(s, rng), s.shape);
  for (const s of params) {
    for (const n of optimizerStateNames(s.name, opt)) {
      state[n] = new ort.Tensor('float32', Float32Array.from({ length: paramSize(s) }, () => rng.uniform(0, 0.01)), s.shape);
    }
  }
  return state;
}

function stack<T extends Float32Array | BigInt64Array>(parts: T[]): T {
  const out = new (parts[0]!.constructor as new (n: number) => T)(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { (out as Float32Array).set(p as Float32Array, o); o += p.length; }
  return out;
}

interface RunResult { state: Record<string, Float32Array>; losses: number[]; perSample: Float32Array[] }

async function singleSteps(def: ModelDefinition, opt: OptimizerConfig, data: StepData[]): Promise<RunResult> {
  const session = await ort.InferenceSession.create(buildTrainStep(def, opt), SESSION_OPTS);
  let state = initialState(def, opt);
  const losses: number[] = [];
  const perSample: Float32Array[] = [];
  for (const d of data) {
    const feeds: Record<string, ort.Tensor> = {
      ...state,
      x: new ort.Tensor('float32', d.x, [B, FEATURES]),
      y: new ort.Tensor('int64', d.y, [B]),
      w: new ort.Tensor('float32', d.w, [B]),
      step: new ort.Tensor('float32', [d.step], []),
      rng_seed: new ort.Tensor('float32', [d.seed], []),
    };
    for (const [k, v] of Object.entries(d.lrs)) feeds[k] = new ort.Tensor('float32', [v], []);
    const out = await session.run(feeds);
    state = Object.fromEntries(Object.keys(state).map((n) => [n, out[`${n}__new`]!]));
    losses.push((out.loss!.data as Float32Array)[0]!);
    perSample.push(out.per_sample_loss!.data as Float32Array);
  }
  await session.release();
  return { state: Object.fromEntries(Object.entries(state).map(([n, t]) => [n, t.data as Float32Array])), losses, perSample };
}

/** One multi-step session run on consecutive groups of `data`, of the lengths `runs` in turn (the last repeated). */
async function multiStep(def: ModelDefinition, opt: OptimizerConfig, data: StepData[], runs: number[]): Promise<RunResult> {
  const session = await ort.InferenceSession.create(buildMultiStepTrainStep(def, opt), SESSION_OPTS);
  let state = initialState(def, opt);
  const losses: number[] = [];
  const perSample: Float32Array[] = [];
  for (let i = 0, r = 0; i < data.length; r++) {
    const group = data.slice(i, i + runs[Math.min(r, runs.length - 1)]!);
    i += group.length;
    const k = group.length;
    const feeds: Record<string, ort.Tensor> = {
      ...state,
      x: new ort.Tensor('float32', stack(group.map((d) => d.x)), [k, B, FEATURES]),
      y: new ort.Tensor('int64', stack(group.map((d) => d.y)), [k, B]),
      w: new ort.Tensor('float32', stack(group.map((d) => d.w)), [k, B]),
      step: new ort.Tensor('float32', Float32Array.from(group, (d) => d.step), [k]),
      rng_seed: new ort.Tensor('float32', Float32Array.from(group, (d) => d.seed), [k]),
    };
    for (const name of Object.keys(group[0]!.lrs)) feeds[name] = new ort.Tensor('float32', Float32Array.from(group, (d) => d.lrs[name]!), [k]);
    const out = await session.run(feeds);
    state = Object.fromEntries(Object.keys(state).map((n) => [n, out[`${n}__new`]!]));
    assert.deepEqual(out.loss!.dims, [k]);
    assert.deepEqual(out.per_sample_loss!.dims, [k, B]);
    losses.push(...(out.loss!.data as Float32Array));
    const ps = out.per_sample_loss!.data as Float32Array;
    for (let j = 0; j < k; j++) perSample.push(ps.slice(j * B, (j + 1) * B));
  }
  await session.release();
  return { state: Object.fromEntries(Object.entries(state).map(([n, t]) => [n, t.data as Float32Array])), losses, perSample };
}

function assertBitEqual(actual: RunResult, expected: RunResult, what: string): void {
  assert.deepEqual(Object.keys(actual.state).sort(), Object.keys(expected.state).sort());
  for (const [name, want] of Object.entries(expected.state)) {
    // Float32Array deepEqual compares with Object.is per element: bit-identical, NaN-safe, -0 ≠ +0.
    assert.deepEqual(actual.state[name], want, `${what}: ${name}`);
  }
  assert.deepEqual(actual.losses, expected.losses, `${what}: losses`);
  assert.deepEqual(actual.perSample, expected.perSample, `${what}: per_sample_loss`);
}

const CASES: { name: string; def: ModelDefinition; opt: OptimizerConfig; dropout?: boolean }[] = [
  { name: 'mlp, sgd nesterov', def: mlpModel({ inputSize: FEATURES, hidden: [7, 5], numClasses: CLASSES }), opt: SGD },
  { name: 'mlp + dropout, adamw with groups and clipping', def: mlpModel({ inputSize: FEATURES, hidden: [7], numClasses: CLASSES, dropout: 0.25 }), opt: ADAM, dropout: true },
  { name: 'batchnorm + dropout, adamw with groups and clipping', def: bnDropoutModel(), opt: ADAM, dropout: true },
  { name: 'batchnorm + dropout, sgd', def: bnDropoutModel(), opt: SGD, dropout: true },
];

describe('buildMultiStepTrainStep', () => {
  for (const { name, def, opt, dropout } of CASES) {
    it(`${name}: runs of 1, ${K} and mixed lengths match single steps bit for bit`, async () => {
      const data = steps(opt, 2 * K);
      const expected = await singleSteps(def, opt, data);
      // The model must actually move, and dropout must matter, for the comparison to mean something.
      assert.ok(expected.losses.every(Number.isFinite));
      const start = initialState(def, opt);
      assert.ok(Object.keys(start).every((n) => !isDeepStrictEqual(start[n]!.data, expected.state[n])), 'every tensor moves');
      if (dropout) {
        const reseeded = await singleSteps(def, opt, data.map((d) => ({ ...d, seed: d.seed + 1 })));
        assert.notDeepEqual(reseeded.losses, expected.losses, 'rng_seed changes the dropout masks');
      }
      assertBitEqual(await multiStep(def, opt, data, [1]), expected, 'K=1');
      assertBitEqual(await multiStep(def, opt, data, [K]), expected, `K=${K}`);
      // One session takes any number of steps a run: K is the stacked inputs' leading dim.
      assertBitEqual(await multiStep(def, opt, data, [3, 1, 2]), expected, 'runs of 3, 1, 2, 2');
    });
  }

  it('stacks grad_norm per step when clipping', async () => {
    const def = bnDropoutModel();
    const session = await ort.InferenceSession.create(buildMultiStepTrainStep(def, ADAM), SESSION_OPTS);
    assert.ok(session.outputNames.includes('grad_norm'));
    assert.ok(session.outputNames.includes('per_sample_grad_norm'));
    assert.ok(session.inputNames.includes('lr__0'));
    await session.release();
  });

});

describe('trainModel stepsPerRun', () => {
  /**
   * `count` batches, the 8th of another size. With stepsPerRun 3 and a checkpoint every 6 steps: steps 1-3, 4-6 and
   * 9-11 fill their runs; 7 and 8 (another size), 12 (a checkpoint) and 13-14 (the end) are runs cut short.
   */
  function batches(count = 14): Batch[] {
    const rng = createRng(5);
    return Array.from({ length: count }, (_, i) => {
      const size = i === 7 ? B - 3 : B;
      return {
        x: Float32Array.from({ length: size * FEATURES }, () => rng.uniform(-2, 2)),
        y: Int32Array.from({ length: size }, () => rng.int(CLASSES)),
        w: Float32Array.from({ length: size }, () => rng.uniform(0.5, 1.5)),
        size, features: FEATURES,
      };
    });
  }

  async function train(def: ModelDefinition, opt: OptimizerConfig, stepsPerRun: number | undefined, count = 14, checkpointEvery = 6) {
    const progress: TrainProgress[] = [];
    const checkpoints: { state: ModelState; stepsDone: number }[] = [];
    async function* feed(): AsyncGenerator<Batch> { yield* batches(count); }
    const start = { ...initModelState(def, opt, 1), step: 20 };
    const result = await trainModel({
      model: def, optimizer: opt, state: start, batches: feed(), seed: 9, stepsPerRun,
      schedule: { kind: 'cosine', totalSteps: 40, warmupSteps: 25 },
      checkpointEvery,
      onCheckpoint: async (state, stepsDone) => { checkpoints.push({ state, stepsDone }); },
      onProgress: (p) => progress.push(p),
    });
    return { result, progress, checkpoints };
  }

  for (const { name, def, opt } of CASES.slice(1, 3)) {
    it(`${name}: stepsPerRun 3 gives single steps' states, losses and checkpoints`, async () => {
      const single = await train(def, opt, 1);
      const multi = await train(def, opt, 3);
      assert.equal(multi.result.steps, 14);
      assert.deepEqual(multi.result.state, single.result.state);
      assert.deepEqual(multi.progress, single.progress);
      assert.deepEqual(multi.checkpoints.map((c) => c.stepsDone), [6, 12]);
      assert.deepEqual(multi.checkpoints, single.checkpoints);
      assert.equal(multi.result.finalLoss, single.result.finalLoss);
      assert.deepEqual(multi.result.gradNorm, single.result.gradNorm);
    });
  }

  it('left out, K is chosen from the first steps\' times, with single steps\' states, losses and checkpoints', async () => {
    const { def, opt } = CASES[2]!;
    // Steps of well under a millisecond, for long enough to repay creating the multi-step session.
    const auto = await train(def, opt, undefined, 2_000, 100);
    const single = await train(def, opt, 1, 2_000, 100);
    assert.ok(auto.result.stepsPerRun > 1, `chose ${auto.result.stepsPerRun}`);
    assert.equal(single.result.stepsPerRun, 1);
    assert.equal(auto.result.steps, 2_000);
    assert.deepEqual(auto.result.state, single.result.state);
    assert.deepEqual(auto.progress, single.progress);
    assert.deepEqual(auto.checkpoints.map((c) => c.stepsDone), Array.from({ length: 20 }, (_, i) => 100 * (i + 1)));
    assert.deepEqual(auto.checkpoints, single.checkpoints);
  });

  it('left out, short calls and long steps run single steps', async () => {
    const { def, opt } = CASES[2]!;
    assert.equal((await train(def, opt, undefined)).result.stepsPerRun, 1, '14 steps do not repay a second session');
  });

  it('rejects a stepsPerRun or intraOpThreads that is not a positive integer', async () => {
    const def = bnDropoutModel();
    async function* none(): AsyncGenerator<Batch> {}
    const options = { model: def, optimizer: SGD, state: initModelState(def, SGD, 1), batches: none(), checkpointEvery: 0 };
    await assert.rejects(trainModel({ ...options, stepsPerRun: 0 }), /stepsPerRun 0 is not a positive integer/);
    await assert.rejects(trainModel({ ...options, intraOpThreads: 1.5 }), /intraOpThreads 1.5 is not a positive integer/);
  });

  it('trains on two intra-op threads as on one, up to float rounding', async () => {
    const { def, opt } = CASES[2]!;
    async function* feed(): AsyncGenerator<Batch> { yield* batches(); }
    const options = { model: def, optimizer: opt, seed: 9, checkpointEvery: 0 };
    const one = await trainModel({ ...options, state: initModelState(def, opt, 1), batches: feed() });
    const two = await trainModel({ ...options, state: initModelState(def, opt, 1), batches: feed(), intraOpThreads: 2 });
    assert.equal(two.steps, one.steps);
    for (const [name, values] of Object.entries(one.state.params)) {
      values.forEach((v, i) => assert.ok(Math.abs(two.state.params[name]![i]! - v) <= 1e-5, `${name}[${i}]`));
    }
  });
});
