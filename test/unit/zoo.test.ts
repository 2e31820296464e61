/**
 * Model zoo end to end on real ORT sessions: each architecture builds, its graphs have the documented inputs and
 * outputs, a few hundred train steps (fed back output → input, as the trainer does) learn a small synthetic task,
 * and the exported inference graph, with trained weights and BatchNorm running stats embedded, classifies a
 * holdout set.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { buildInference, buildTrainStep, modelParameters, trainStepGraph, type TrainStepOptions } from '../../lib/onnx/models/build.js';
import { cnnModel } from '../../lib/onnx/models/cnn.js';
import { logisticRegressionModel } from '../../lib/onnx/models/logistic-regression.js';
import { mlpModel } from '../../lib/onnx/models/mlp.js';
import type { ModelDefinition } from '../../lib/onnx/models/model.js';
import { buildMultiStepTrainStep } from '../../lib/onnx/models/multi-step.js';
import { resnetModel } from '../../lib/onnx/models/resnet.js';
import { nchwcBlock } from '../../lib/onnx/nchwc-block.js';
import { optimizerStateNames, type OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { initialValue } from '../../lib/onnx/params.js';
import { createRng, type Rng } from '../../lib/rng.js';

const SESSION_OPTS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };
const ADAM: OptimizerConfig = { name: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

interface Data { x: Float32Array; y: Int32Array; n: number }

const featureShape = (def: ModelDefinition): number[] => def.inputs[0]!.shape.slice(1) as number[];

/** Gaussian clusters, one per class, in `features` dims. */
function blobs(features: number, classes: number): (rng: Rng, n: number) => Data {
  const centers = (() => {
    const rng = createRng(2024);
    return Array.from({ length: classes }, () => Array.from({ length: features }, () => rng.uniform(-2, 2)));
  })();
  return (rng, n) => {
    const y = Int32Array.from({ length: n }, () => rng.int(classes));
    const x = new Float32Array(n * features);
    y.forEach((c, i) => centers[c]!.forEach((m, j) => { x[i * features + j] = m + 0.7 * rng.normal(); }));
    return { x, y, n };
  };
}

/** Noisy images with a bright 2×2 blob somewhere in one quadrant; the class is the quadrant. */
function quadrantImages(channels: number, side: number): (rng: Rng, n: number) => Data {
  return (rng, n) => {
    const x = Float32Array.from({ length: n * channels * side * side }, () => 0.3 * rng.normal());
    const y = Int32Array.from({ length: n }, () => rng.int(4));
    const half = side / 2;
    y.forEach((q, i) => {
      const top = (q >> 1) * half + rng.int(half - 1);
      const left = (q & 1) * half + rng.int(half - 1);
      for (let c = 0; c < channels; c++) for (let u = 0; u < 2; u++) for (let v = 0; v < 2; v++) {
        x[((i * channels + c) * side + top + u) * side + left + v]! += 2;
      }
    });
    return { x, y, n };
  };
}

/** Runs `steps` train steps on fresh batches; parameters, buffers and optimizer state go round as ORT tensors. */
async function train(def: ModelDefinition, opt: OptimizerConfig, data: (rng: Rng, n: number) => Data, steps: number, batch = 32, graph: TrainStepOptions = {}) {
  const { params, buffers } = modelParameters(def);
  const init = createRng(1);
  const state: Record<string, ort.Tensor> = {};
  for (const s of [...params, ...buffers]) state[s.name] = new ort.Tensor('float32', initialValue(s, init), s.shape);
  for (const s of params) for (const n of optimizerStateNames(s.name, opt)) state[n] = new ort.Tensor('float32', new Float32Array(state[s.name]!.size), s.shape);
  const session = await ort.InferenceSession.create(buildTrainStep(def, opt, graph), SESSION_OPTS);
  const rng = createRng(7);
  const losses: number[] = [];
  for (let step = 1; step <= steps; step++) {
    const { x, y, n } = data(rng, batch);
    const out = await session.run({
      ...state,
      x: new ort.Tensor('float32', x, [n, ...featureShape(def)]),
      y: new ort.Tensor('int64', BigInt64Array.from(y, BigInt), [n]),
      w: new ort.Tensor('float32', new Float32Array(n).fill(1), [n]),
      lr: new ort.Tensor('float32', [opt.lr], []),
      step: new ort.Tensor('float32', [step], []),
      rng_seed: new ort.Tensor('float32', [step], []),
    });
    losses.push((out.loss!.data as Float32Array)[0]!);
    for (const name of Object.keys(state)) state[name] = out[`${name}__new`]!;
  }
  const weights = Object.fromEntries([...params, ...buffers].map((s) => [s.name, state[s.name]!.data as Float32Array]));
  return { losses, weights };
}

async function accuracy(def: ModelDefinition, weights: Record<string, Float32Array>, holdout: Data): Promise<number> {
  const session = await ort.InferenceSession.create(buildInference(def, weights), SESSION_OPTS);
  assert.deepEqual(session.inputNames, ['x']);
  const out = await session.run({ x: new ort.Tensor('float32', holdout.x, [holdout.n, ...featureShape(def)]) });
  const logits = out.output!.data as Float32Array;
  let correct = 0;
  for (let i = 0; i < holdout.n; i++) {
    const row = Array.from(logits.subarray(i * def.outputSize, (i + 1) * def.outputSize));
    if (row.indexOf(Math.max(...row)) === holdout.y[i]) correct++;
  }
  return correct / holdout.n;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

interface ZooCase {
  name: string;
  def: ModelDefinition;
  data: (rng: Rng, n: number) => Data;
  steps: number;
  params: string[];
  buffers: string[];
  /** The input for logistic regression, the last hidden layer of the MLP, pooled features of the conv nets. */
  embeddingSize: number;
}

const zoo: ZooCase[] = [
  {
    name: 'logistic regression', def: logisticRegressionModel({ inputSize: 6, numClasses: 3 }), data: blobs(6, 3), steps: 150,
    params: ['fc.weight', 'fc.bias'], buffers: [], embeddingSize: 6,
  },
  {
    name: 'MLP with dropout', def: mlpModel({ inputSize: 6, hidden: [32, 16], numClasses: 3, dropout: 0.1 }), data: blobs(6, 3), steps: 150,
    params: ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias'], buffers: [], embeddingSize: 16,
  },
  {
    name: 'CNN', def: cnnModel({ channels: 1, height: 8, width: 8, numClasses: 4, filters: [8, 16] }), data: quadrantImages(1, 8), steps: 200,
    params: ['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'fc.weight', 'fc.bias'], buffers: [], embeddingSize: 16,
  },
  {
    name: 'ResNet', def: resnetModel({ channels: 3, height: 8, width: 8, numClasses: 4, widths: [8, 16], blocksPerStage: 1 }), data: quadrantImages(3, 8), steps: 200,
    params: [
      'conv1.weight', 'bn1.weight', 'bn1.bias',
      'layer1.0.conv1.weight', 'layer1.0.bn1.weight', 'layer1.0.bn1.bias', 'layer1.0.conv2.weight', 'layer1.0.bn2.weight', 'layer1.0.bn2.bias',
      'layer2.0.conv1.weight', 'layer2.0.bn1.weight', 'layer2.0.bn1.bias', 'layer2.0.conv2.weight', 'layer2.0.bn2.weight', 'layer2.0.bn2.bias',
      'layer2.0.downsample.0.weight', 'layer2.0.downsample.1.weight', 'layer2.0.downsample.1.bias',
      'fc.weight', 'fc.bias',
    ],
    buffers: ['bn1', 'layer1.0.bn1', 'layer1.0.bn2', 'layer2.0.bn1', 'layer2.0.bn2', 'layer2.0.downsample.1']
      .flatMap((bn) => [`${bn}.running_mean`, `${bn}.running_var`]),
    embeddingSize: 16,
  },
];

describe('model zoo', () => {
  for (const { name, def, data, steps, params, buffers, embeddingSize } of zoo) {
    describe(name, () => {
      it('declares its parameters and buffers; graphs have the documented inputs and outputs', async () => {
        const declared = modelParameters(def);
        assert.deepEqual(declared.params.map((s) => s.name), params);
        assert.deepEqual(declared.buffers.map((s) => s.name), buffers);
        const states = declared.params.flatMap((s) => optimizerStateNames(s.name, ADAM));

        const train = await ort.InferenceSession.create(buildTrainStep(def, ADAM), SESSION_OPTS);
        assert.deepEqual([...train.inputNames].sort(), [...params, ...buffers, ...states, 'x', 'y', 'w', 'lr', 'step', 'rng_seed'].sort());
        const expectedOutputs = [...params, ...buffers, ...states].map((n) => `${n}__new`);
        assert.deepEqual([...train.outputNames].sort(), [...expectedOutputs, 'loss', 'per_sample_loss', 'per_sample_grad_norm'].sort());

        const inference = await ort.InferenceSession.create(buildInference(def), SESSION_OPTS);
        assert.deepEqual([...inference.inputNames].sort(), ['x', ...params, ...buffers].sort());
        const rng = createRng(3);
        const weights = Object.fromEntries([...declared.params, ...declared.buffers].map((s) => [s.name, initialValue(s, rng)]));
        const embedded = await ort.InferenceSession.create(buildInference(def, weights), SESSION_OPTS);
        const batch = 5;
        const out = await embedded.run({ x: new ort.Tensor('float32', data(rng, batch).x, [batch, ...featureShape(def)]) });
        assert.deepEqual(out.output!.dims, [batch, def.outputSize]);
        assert.deepEqual(out.embedding!.dims, [batch, embeddingSize]);
        assert.ok((out.output!.data as Float32Array).every(Number.isFinite));
      });

      it(`learns the synthetic task in ${steps} Adam steps; the exported model classifies a holdout set`, async () => {
        const { losses, weights } = await train(def, ADAM, data, steps);
        const start = mean(losses.slice(0, 5));
        const end = mean(losses.slice(-10));
        assert.ok(end < 0.3 * start, `loss ${start.toFixed(3)} → ${end.toFixed(3)}`);
        const acc = await accuracy(def, weights, data(createRng(99), 400));
        assert.ok(acc > 0.9, `holdout accuracy ${acc}`);
      });
    });
  }

  it('a Yearbook-sized CNN (3×32×32) and one that pools an odd-sized 7×7 map (1×28×28, three blocks) build', async () => {
    for (const def of [cnnModel({ channels: 3, height: 32, width: 32, numClasses: 2 }), cnnModel({ channels: 1, height: 28, width: 28, numClasses: 10, filters: [8, 16, 16] })]) {
      await ort.InferenceSession.create(buildTrainStep(def, ADAM), SESSION_OPTS);
    }
    assert.throws(() => cnnModel({ channels: 1, height: 4, width: 4, numClasses: 2, filters: [4, 4, 4] }), /too small/);
  });

  it('with NCHWc convs (this CPU\'s block size) ResNet and the CNN take the steps they take with Conv', async (t) => {
    const block = await nchwcBlock();
    if (block === undefined) return t.skip('ONNX Runtime has no NCHWc kernels on this CPU');
    const nets = [
      resnetModel({ channels: 3, height: 8, width: 8, numClasses: 4, widths: [16, 32], blocksPerStage: 1 }),
      cnnModel({ channels: 3, height: 8, width: 8, numClasses: 4, filters: [16, 32] }),
    ];
    for (const def of nets) {
      const nodes = trainStepGraph(def, ADAM, { nchwcBlock: block }).toGraph().node;
      assert.ok(nodes.some((n) => n.domain === 'com.microsoft.nchwc' && n.op_type === 'Conv'), `${def.architecture}: NCHWc convs in the train step`);
      // The multi-step graph imports the domain its Scan body uses.
      await (await ort.InferenceSession.create(buildMultiStepTrainStep(def, ADAM, { nchwcBlock: block }), SESSION_OPTS)).release();
      // The forward with parameters as inputs (batch-then-sample's) computes what the plain one does; an export stays plain.
      const declared = modelParameters(def);
      const rng = createRng(5);
      const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', quadrantImages(3, 8)(rng, 6).x, [6, 3, 8, 8]) };
      for (const spec of [...declared.params, ...declared.buffers]) feeds[spec.name] = new ort.Tensor('float32', initialValue(spec, rng), spec.shape);
      const [plainOut, blockedOut] = await Promise.all([{}, { nchwcBlock: block }].map(async (options) => {
        const session = await ort.InferenceSession.create(buildInference(def, undefined, options), SESSION_OPTS);
        return (await session.run(feeds)).output!.data as Float32Array;
      }));
      plainOut!.forEach((v, i) => assert.ok(Math.abs(v - blockedOut![i]!) <= 1e-4 * Math.max(1, Math.abs(v)), `${def.architecture} forward output ${i}: ${v} vs ${blockedOut![i]}`));
      const weights = Object.fromEntries(Object.entries(feeds).filter(([name]) => name !== 'x').map(([name, t]) => [name, t.data as Float32Array]));
      assert.throws(() => buildInference(def, weights, { nchwcBlock: block }), /stays plain ONNX/);
      const plain = await train(def, ADAM, quadrantImages(3, 8), 3);
      const blocked = await train(def, ADAM, quadrantImages(3, 8), 3, 32, { nchwcBlock: block });
      plain.losses.forEach((loss, i) => assert.ok(Math.abs(loss - blocked.losses[i]!) <= 1e-4 * loss, `${def.architecture} step ${i + 1}: loss ${loss} vs ${blocked.losses[i]}`));
      // Adam moves a weight by about lr a step whatever its gradient's size, so a gradient near 0 whose sign rounding flips moves it the other way.
      for (const [name, value] of Object.entries(plain.weights)) {
        const gap = value.reduce((m, v, i) => Math.max(m, Math.abs(v - blocked.weights[name]![i]!)), 0);
        assert.ok(gap <= 6 * ADAM.lr, `${def.architecture} ${name}: weights ${gap} apart after 3 steps`);
      }
    }
  });
});
