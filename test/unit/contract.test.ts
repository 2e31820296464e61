/**
 * The contract for user-supplied graphs: Tideline's own graphs satisfy it, broken variants are rejected with
 * messages naming exactly the culprit, the signature reader round-trips, and a contract-driven training loop
 * (knowing nothing but the contract) trains graphs that pass it in a real ORT session.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import {
  checkInferenceGraph, checkTrainStepGraph, ContractError, inferParameters, readGraphSignature,
  type GraphSignature, type TrainStepExpectation,
} from '../../lib/onnx/contract/contract.js';
import { GraphBuilder } from '../../lib/onnx/graph.js';
import { buildInference, buildTrainStep, modelParameters } from '../../lib/onnx/models/build.js';
import { mlpModel } from '../../lib/onnx/models/mlp.js';
import { resnetModel } from '../../lib/onnx/models/resnet.js';
import { learningRateInputs, type OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { DataType, type ElemType } from '../../lib/onnx/proto.js';
import { initialValue, paramSize } from '../../lib/onnx/params.js';
import { createRng } from '../../lib/rng.js';

const SGD: OptimizerConfig = { name: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0 };
const ADAM: OptimizerConfig = { name: 'adam', lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
const ADAMW_GROUPS: OptimizerConfig = {
  name: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, groups: [{ match: 'fc', lr: 1e-2 }], clipGradNorm: 1,
};
const SESSION_OPTS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };

const MLP = mlpModel({ inputSize: 4, hidden: [8], numClasses: 3, dropout: 0.1 });
const RESNET = resnetModel({ channels: 3, height: 8, width: 8, numClasses: 4, widths: [4, 8], blocksPerStage: 1 });

function expectFor(def: typeof MLP, optimizer: OptimizerConfig): TrainStepExpectation {
  const { params, buffers } = modelParameters(def);
  return {
    params: params.map((p) => p.name), buffers: buffers.map((b) => b.name), optimizer,
    modelInputs: def.inputs.map((i) => i.name), loss: def.loss,
  };
}

/** The ContractError's problems (fails when `fn` does not throw one). */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ContractError, `expected a ContractError, got ${e}`);
    return e.problems;
  }
  assert.fail('expected a ContractError');
}

const ELEM: Record<number, ElemType> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k as ElemType]));

/**
 * A graph with exactly the given signature (its computation is meaningless: each output is a constant), after
 * `edit` mutated a copy of it: how a user's broken graph looks to the contract.
 */
function graphWithSignature(sig: GraphSignature, edit: (s: GraphSignature) => void): Uint8Array {
  const s: GraphSignature = structuredClone(sig);
  edit(s);
  const g = new GraphBuilder('user_graph');
  const dims = (d: TensorSignatureDims) => d?.map((x) => x ?? '?');
  for (const i of s.inputs) g.input(i.name, ELEM[i.elemType]!, dims(i.dims)!);
  const zero = g.const('float32', [], [0]);
  for (const o of s.outputs) g.output(o.name, zero, ELEM[o.elemType]!, dims(o.dims));
  return g.toBytes();
}
type TensorSignatureDims = GraphSignature['inputs'][number]['dims'];

const dropInput = (name: string) => (s: GraphSignature) => {
  assert.ok(s.inputs.some((i) => i.name === name), name);
  s.inputs = s.inputs.filter((i) => i.name !== name);
};
const dropOutput = (name: string) => (s: GraphSignature) => {
  assert.ok(s.outputs.some((o) => o.name === name), name);
  s.outputs = s.outputs.filter((o) => o.name !== name);
};
const retype = (name: string, elemType: number) => (s: GraphSignature) => {
  const v = [...s.inputs, ...s.outputs].find((x) => x.name === name);
  assert.ok(v, name);
  v.elemType = elemType;
};

describe('graph signature', () => {
  it('round-trips names, element types, dims and initializers', () => {
    const g = new GraphBuilder('sig');
    g.input('x', 'float32', ['B', 3, 32, 32]);
    g.input('ids', 'int64', ['B', 'T']);
    g.input('flag', 'bool', []);
    g.input('scale', 'float64', [2]);
    g.initializer('W', 'float32', [2, 3], [1, 2, 3, 4, 5, 6]);
    const c = g.const('int32', [1], [7]);
    g.output('out', g.op('Add', ['x', 'x']), 'float32', ['B', 3, 32, 32]);
    g.output('idx', c, 'int32', [1]);
    g.output('nodims', 'W', 'float32');
    const sig = readGraphSignature(g.toBytes());
    assert.deepEqual(sig.inputs, [
      { name: 'x', elemType: DataType.float32, dims: ['B', 3, 32, 32] },
      { name: 'ids', elemType: DataType.int64, dims: ['B', 'T'] },
      { name: 'flag', elemType: DataType.bool, dims: [] },
      { name: 'scale', elemType: DataType.float64, dims: [2] },
    ]);
    assert.deepEqual(sig.outputs, [
      { name: 'out', elemType: DataType.float32, dims: ['B', 3, 32, 32] },
      { name: 'idx', elemType: DataType.int32, dims: [1] },
      { name: 'nodims', elemType: DataType.float32 },
    ]);
    assert.deepEqual(sig.initializers, ['W', c]);
  });

  it('rejects bytes that are not a model', () => {
    assert.throws(() => readGraphSignature(new Uint8Array([0xff, 0xff, 0xff])), /not an ONNX model|has no graph/);
  });
});

describe('Tideline-built graphs satisfy the contract', () => {
  for (const [label, def, opt] of [
    ['mlp / sgd', MLP, SGD], ['mlp / adam', MLP, ADAM], ['mlp / adamw + groups + clipping', MLP, ADAMW_GROUPS],
    ['resnet / adamw + groups + clipping', RESNET, ADAMW_GROUPS], ['resnet / sgd', RESNET, SGD],
  ] as const) {
    it(label, () => {
      checkTrainStepGraph(buildTrainStep(def, opt), expectFor(def, opt));
      const { params, buffers } = modelParameters(def);
      const weights = Object.fromEntries([...params, ...buffers].map((s) => [s.name, new Float32Array(paramSize(s))]));
      checkInferenceGraph(buildInference(def, weights), { modelInputs: ['x'] });
    });
  }

  it('inferParameters recovers parameters and buffers with and without the optimizer', () => {
    for (const [def, opt] of [[MLP, ADAM], [MLP, SGD], [RESNET, ADAMW_GROUPS]] as const) {
      const { params, buffers } = modelParameters(def);
      const expected = {
        params: params.map((p) => ({ name: p.name, shape: p.shape })),
        buffers: buffers.map((b) => ({ name: b.name, shape: b.shape })),
      };
      const bytes = buildTrainStep(def, opt);
      assert.deepEqual(inferParameters(bytes, opt), expected);
      assert.deepEqual(inferParameters(bytes), expected);
    }
  });

  it('an inference graph taking its weights as inputs is rejected', () => {
    const problems = problemsOf(() => checkInferenceGraph(buildInference(MLP), { modelInputs: ['x'] }));
    assert.deepEqual(problems, ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'].map(
      (p) => `unexpected input '${p}' (weights must be initializers; only model inputs are fed)`,
    ));
  });
});

describe('broken graphs are rejected naming the culprit', () => {
  const adamSig = readGraphSignature(buildTrainStep(MLP, ADAM));
  const adamExpect = expectFor(MLP, ADAM);
  const check = (edit: (s: GraphSignature) => void, expect = adamExpect) =>
    problemsOf(() => checkTrainStepGraph(graphWithSignature(adamSig, edit), expect));

  it('the unedited signature passes (the helper itself is sound)', () => {
    checkTrainStepGraph(graphWithSignature(adamSig, () => {}), adamExpect);
  });

  it('missing input', () => {
    assert.deepEqual(check(dropInput('w')), ["missing input 'w' (sample weights [B])"]);
    assert.deepEqual(check(dropInput('x')), ["missing input 'x' (model input)"]);
    assert.deepEqual(check(dropInput('fc2.bias')), ["missing input 'fc2.bias' (trainable parameter)"]);
  });

  it('wrong element type', () => {
    assert.deepEqual(check(retype('y', DataType.float32)), ["input 'y' is float but softmax-ce needs int64"]);
    assert.deepEqual(check(retype('lr', DataType.float64)), ["input 'lr' is double but must be float"]);
    assert.deepEqual(check(retype('fc1.weight__new', DataType.float64)), ["output 'fc1.weight__new' is double but must be float"]);
    // The same graph is fine for a float target once the loss says so... except that y is then int64.
    const mseExpect = { ...adamExpect, loss: 'mse' as const };
    assert.deepEqual(check(() => {}, mseExpect), ["input 'y' is int64 but mse needs float"]);
  });

  it('missing loss / per_sample_loss', () => {
    assert.deepEqual(check(dropOutput('loss')), ["missing output 'loss' (weighted mean loss)"]);
    assert.deepEqual(check((s) => { dropOutput('loss')(s); dropOutput('per_sample_loss')(s); }), [
      "missing output 'loss' (weighted mean loss)", "missing output 'per_sample_loss' (per-sample loss [B])",
    ]);
  });

  it('optional values may be absent', () => {
    checkTrainStepGraph(graphWithSignature(adamSig, (s) => {
      dropOutput('per_sample_grad_norm')(s);
      dropInput('rng_seed')(s);
    }), adamExpect);
  });

  it('one Adam state missing', () => {
    assert.deepEqual(check((s) => { dropInput('fc2.bias__v')(s); dropOutput('fc2.bias__v__new')(s); }), [
      "missing input 'fc2.bias__v' (Adam state of parameter 'fc2.bias')",
      "missing output 'fc2.bias__v__new' (update of Adam state of parameter 'fc2.bias')",
    ]);
  });

  it('optimizer switched: an SGD graph checked as Adam', () => {
    const problems = problemsOf(() => checkTrainStepGraph(buildTrainStep(MLP, SGD), adamExpect));
    const params = ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'];
    assert.deepEqual(problems, [
      ...params.flatMap((p) => ['m', 'v'].flatMap((k) => [
        `missing input '${p}__${k}' (Adam state of parameter '${p}')`,
        `missing output '${p}__${k}__new' (update of Adam state of parameter '${p}')`,
      ])),
      ...params.map((p) => `unexpected input '${p}__mom' (optimizer state of parameter '${p}' for another optimizer than adam)`),
    ]);
  });

  it('the combined example: every culprit in one message', () => {
    const bytes = graphWithSignature(adamSig, (s) => {
      dropInput('fc1.weight__m')(s);
      retype('y', DataType.float32)(s);
      dropOutput('per_sample_loss')(s);
    });
    assert.throws(() => checkTrainStepGraph(bytes, adamExpect), (e: Error) => {
      assert.equal(e.message, "train-step graph: missing input 'fc1.weight__m' (Adam state of parameter 'fc1.weight'); "
        + "input 'y' is float but softmax-ce needs int64; missing output 'per_sample_loss' (per-sample loss [B])");
      return true;
    });
  });

  it('shape mismatches, ranks and unexpected inputs', () => {
    const setDims = (name: string, dims: (number | string)[]) => (s: GraphSignature) => {
      [...s.inputs, ...s.outputs].find((x) => x.name === name)!.dims = dims;
    };
    assert.deepEqual(check(setDims('fc1.weight__new', [4, 8])),
      ["output 'fc1.weight__new' has shape [4, 8] but parameter 'fc1.weight' has [8, 4]"]);
    assert.deepEqual(check(setDims('fc1.bias__m', [9])), ["input 'fc1.bias__m' has shape [9] but parameter 'fc1.bias' has [8]"]);
    // Only the parameter is blamed: its states and update are not compared against a symbolic dim.
    assert.deepEqual(check(setDims('fc2.bias', ['C'])), ["input 'fc2.bias' has shape [C] but a parameter's shape must be static"]);
    assert.deepEqual(check(setDims('loss', [1])), ["output 'loss' has rank 1 [1] but must have rank 0"]);
    assert.deepEqual(check(setDims('w', ['B', 1])), ["input 'w' has rank 2 [B, 1] but must have rank 1"]);
    assert.deepEqual(check((s) => { s.inputs.push({ name: 'temperature', elemType: DataType.float32, dims: [] }); }),
      ["unexpected input 'temperature' (the trainer would not feed it)"]);
    // An input with a default value (also an initializer) is optional, so it is not unexpected.
    const g = new GraphBuilder('defaults');
    for (const i of adamSig.inputs) g.input(i.name, ELEM[i.elemType]!, i.dims!.map((d) => d ?? '?'));
    g.input('temperature', 'float32', []);
    const zero = g.const('float32', [], [0]);
    for (const o of adamSig.outputs) g.output(o.name, zero, ELEM[o.elemType]!, o.dims?.map((d) => d ?? '?'));
    const bytes = g.toBytes();
    assert.deepEqual(problemsOf(() => checkTrainStepGraph(bytes, adamExpect)), ["unexpected input 'temperature' (the trainer would not feed it)"]);
  });

  it('parameter groups need their lr__<i> input; buffers need their pair', () => {
    const sig = readGraphSignature(buildTrainStep(RESNET, ADAMW_GROUPS));
    const expect = expectFor(RESNET, ADAMW_GROUPS);
    assert.deepEqual(problemsOf(() => checkTrainStepGraph(graphWithSignature(sig, dropInput('lr__0')), expect)),
      ["missing input 'lr__0' (learning rate of parameter group 0)"]);
    assert.deepEqual(problemsOf(() => checkTrainStepGraph(graphWithSignature(sig, dropOutput('bn1.running_mean__new')), expect)),
      ["missing output 'bn1.running_mean__new' (update of buffer 'bn1.running_mean')"]);
    assert.deepEqual(problemsOf(() => checkTrainStepGraph(buildTrainStep(RESNET, ADAMW_GROUPS), { ...expect, buffers: [] })),
      expect.buffers!.map((b) => `unexpected input '${b}' (has an '${b}__new' output: list it in params or buffers)`));
    assert.deepEqual(problemsOf(() => checkTrainStepGraph(buildTrainStep(RESNET, SGD), { ...expect, optimizer: { ...SGD, groups: [{ match: 'fc' }] } })),
      ["missing input 'lr__0' (learning rate of parameter group 0)"]);
  });

  it('inference graph: missing or mistyped outputs, missing model input', () => {
    const weights = Object.fromEntries(modelParameters(MLP).params.map((s) => [s.name, new Float32Array(paramSize(s))]));
    const sig = readGraphSignature(buildInference(MLP, weights));
    const inf = (edit: (s: GraphSignature) => void) =>
      problemsOf(() => checkInferenceGraph(graphWithSignature(sig, edit), { modelInputs: ['x'] }));
    assert.deepEqual(inf(dropOutput('embedding')), ["missing output 'embedding' (embeddings [B, E])"]);
    assert.deepEqual(inf(retype('output', DataType.float64)), ["output 'output' is double but must be float"]);
    assert.deepEqual(inf(dropInput('x')), ["missing input 'x' (model input)"]);
  });
});

// ---- the contract is sufficient to train ----

type Feeds = Record<string, ort.Tensor>;

/** Initial value from the shape alone: uniform ±sqrt(6/fanIn) (fanIn = product of dims after the first) for rank ≥ 2, zeros otherwise. */
function initFromShape(shape: number[], rng: ReturnType<typeof createRng>): Float32Array {
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  if (shape.length >= 2) {
    const bound = Math.sqrt(6 / shape.slice(1).reduce((a, b) => a * b, 1));
    for (let i = 0; i < v.length; i++) v[i] = rng.uniform(-bound, bound);
  }
  return v;
}

/**
 * A training loop that knows only the contract: it checks the graph, infers what to initialise, feeds the
 * contract's inputs and feeds every `X__new` output back as `X`. Returns the loss of each step.
 */
async function trainByContract(
  bytes: Uint8Array, expect: Omit<TrainStepExpectation, 'params' | 'buffers'>, batch: Feeds, steps: number,
  /** Initial values the user ships; parameters without one are initialised from their shape, buffers to zeros. */
  initial: Record<string, Float32Array> = {},
): Promise<number[]> {
  const { params, buffers } = inferParameters(bytes, expect.optimizer);
  const sig = checkTrainStepGraph(bytes, { ...expect, params: params.map((p) => p.name), buffers: buffers.map((b) => b.name) });
  const rng = createRng(7);
  const state: Feeds = {};
  for (const p of params) state[p.name] = new ort.Tensor('float32', initial[p.name] ?? initFromShape(p.shape, rng), p.shape);
  for (const b of buffers) {
    state[b.name] = new ort.Tensor('float32', initial[b.name] ?? new Float32Array(b.shape.reduce((a, c) => a * c, 1)), b.shape);
  }
  // Optimizer state: every other paired input, zeros of its declared shape.
  const outputs = new Set(sig.outputs.map((o) => o.name));
  for (const i of sig.inputs) {
    if (outputs.has(`${i.name}__new`) && !(i.name in state)) {
      const shape = i.dims as number[];
      state[i.name] = new ort.Tensor('float32', new Float32Array(shape.reduce((a, c) => a * c, 1)), shape);
    }
  }
  const session = await ort.InferenceSession.create(Buffer.from(bytes), SESSION_OPTS);
  const hasSeed = sig.inputs.some((i) => i.name === 'rng_seed');
  const losses: number[] = [];
  try {
    for (let step = 1; step <= steps; step++) {
      const feeds: Feeds = { ...state, ...batch, step: new ort.Tensor('float32', [step], []) };
      for (const lr of learningRateInputs(expect.optimizer)) feeds[lr] = new ort.Tensor('float32', [expect.optimizer.lr], []);
      if (hasSeed) feeds.rng_seed = new ort.Tensor('float32', [rng.int(1 << 24)], []);
      const out = await session.run(feeds);
      losses.push((out.loss!.data as Float32Array)[0]!);
      assert.equal(out.per_sample_loss!.dims[0], batch.w!.dims[0]);
      for (const name of Object.keys(state)) state[name] = out[`${name}__new`]!;
    }
  } finally {
    await session.release();
  }
  return losses;
}

/**
 * A user's own train step, written by hand without Tideline's tape or optimizers: linear regression
 * pred = x·W + b with mse, SGD with momentum, and a hand-derived gradient.
 */
function handWrittenLinearRegression(features: number): Uint8Array {
  const g = new GraphBuilder('user_linreg_train_step');
  const W = g.input('W', 'float32', [features, 1]);
  const b = g.input('b', 'float32', [1]);
  const Wm = g.input('W__mom', 'float32', [features, 1]);
  const bm = g.input('b__mom', 'float32', [1]);
  const x = g.input('x', 'float32', ['B', features]);
  const y = g.input('y', 'float32', ['B']);
  const w = g.input('w', 'float32', ['B']);
  const lr = g.input('lr', 'float32', []);
  g.input('step', 'float32', []);
  const pred = g.op('Reshape', [g.op('Add', [g.op('MatMul', [x, W]), b]), g.const('int64', [1], [-1])]);
  const diff = g.op('Sub', [pred, y]);
  const per = g.op('Mul', [diff, diff]);
  const sw = g.op('ReduceSum', [w], { keepdims: 0 });
  const loss = g.op('Div', [g.op('ReduceSum', [g.op('Mul', [w, per])], { keepdims: 0 }), sw]);
  const dpred = g.op('Div', [g.op('Mul', [g.op('Mul', [w, diff]), g.const('float32', [], [2])]), sw]); // [B]
  const gW = g.op('MatMul', [g.op('Transpose', [x]), g.op('Unsqueeze', [dpred, g.const('int64', [1], [1])])]);
  const gb = g.op('ReduceSum', [dpred], { keepdims: 1 });
  const mu = g.const('float32', [], [0.9]);
  for (const [p, m, grad, shape] of [[W, Wm, gW, [features, 1]], [b, bm, gb, [1]]] as const) {
    const buf = g.op('Add', [g.op('Mul', [m, mu]), grad]);
    g.output(`${p}__new`, g.op('Sub', [p, g.op('Mul', [buf, lr])]), 'float32', [...shape]);
    g.output(`${m}__new`, buf, 'float32', [...shape]);
  }
  g.output('loss', loss, 'float32', []);
  g.output('per_sample_loss', per, 'float32', ['B']);
  return g.toBytes();
}

describe('a graph passing the contract trains through the contract alone', () => {
  it('Tideline mlp (Adam, dropout, rng_seed) on separable blobs', async () => {
    const rng = createRng(3);
    const n = 48;
    const centers = [[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]];
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    const x = Float32Array.from({ length: n * 4 }, (_, k) => centers[labels[Math.floor(k / 4)]!]![k % 4]! + rng.uniform(-0.5, 0.5));
    const batch: Feeds = {
      x: new ort.Tensor('float32', x, [n, 4]),
      y: new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [n]),
      w: new ort.Tensor('float32', new Float32Array(n).fill(1), [n]),
    };
    const losses = await trainByContract(buildTrainStep(MLP, ADAM), { optimizer: ADAM, modelInputs: ['x'], loss: 'softmax-ce' }, batch, 40);
    assert.ok(losses.every(Number.isFinite));
    assert.ok(losses.at(-1)! < losses[0]! * 0.25, `loss ${losses[0]} → ${losses.at(-1)}`);
  });

  it('a hand-written linear regression (SGD momentum, mse)', async () => {
    const rng = createRng(5);
    const n = 32;
    const trueW = [1, -2, 0.5];
    const x = Float32Array.from({ length: n * 3 }, () => rng.uniform(-1, 1));
    const y = Float32Array.from({ length: n }, (_, i) => trueW.reduce((a, wk, k) => a + wk * x[i * 3 + k]!, 0.3));
    const bytes = handWrittenLinearRegression(3);
    assert.deepEqual(inferParameters(bytes), { params: [{ name: 'W', shape: [3, 1] }, { name: 'b', shape: [1] }], buffers: [] });
    const batch: Feeds = {
      x: new ort.Tensor('float32', x, [n, 3]),
      y: new ort.Tensor('float32', y, [n]),
      w: new ort.Tensor('float32', new Float32Array(n).fill(1), [n]),
    };
    const losses = await trainByContract(bytes, { optimizer: { ...SGD, lr: 0.05 }, modelInputs: ['x'], loss: 'mse' }, batch, 100);
    assert.ok(losses.at(-1)! < losses[0]! * 1e-3, `loss ${losses[0]} → ${losses.at(-1)}`);
  });

  it('Tideline resnet (AdamW, groups, clipping, batch-norm buffers fed back)', async () => {
    const rng = createRng(11);
    const n = 8;
    const labels = Array.from({ length: n }, (_, i) => i % 4);
    const x = Float32Array.from({ length: n * 3 * 64 }, (_, k) => (labels[Math.floor(k / 192)]! === (k % 192) % 4 ? 1 : 0) + rng.uniform(-0.1, 0.1));
    const batch: Feeds = {
      x: new ort.Tensor('float32', x, [n, 3, 8, 8]),
      y: new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [n]),
      w: new ort.Tensor('float32', new Float32Array(n).fill(1), [n]),
    };
    const opt: OptimizerConfig = { ...ADAMW_GROUPS, lr: 0.02, groups: [{ match: 'fc', lr: 0.02 }] };
    // Batch-norm scales must start at one: the user ships Tideline's initial values (a shape says too little).
    const { params, buffers } = modelParameters(RESNET);
    const initRng = createRng(1);
    const initial = Object.fromEntries([...params, ...buffers].map((s) => [s.name, initialValue(s, initRng)]));
    const losses = await trainByContract(
      buildTrainStep(RESNET, opt), { optimizer: opt, modelInputs: ['x'], loss: 'softmax-ce' }, batch, 15, initial,
    );
    assert.ok(losses.every(Number.isFinite));
    assert.ok(losses.at(-1)! < losses[0]! * 0.5, `loss ${losses[0]} → ${losses.at(-1)}`);
  });
});
