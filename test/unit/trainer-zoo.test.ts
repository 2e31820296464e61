/**
 * trainModel, evaluateModel, export and the model-state file with the rest of the zoo: image models fed
 * [B, C, H, W] from flat batches, a ResNet whose BatchNorm running stats travel through the worker, checkpoints,
 * the state file and the exported model, and the float-target losses (bce-logits, mse).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Batch } from '../../lib/data/batch.js';
import { evaluateModel } from '../../lib/eval/evaluate.js';
import { exportInferenceModel } from '../../lib/models/export.js';
import { ModelStore } from '../../lib/models/store.js';
import { linear } from '../../lib/onnx/layers/linear.js';
import { modelParameters } from '../../lib/onnx/models/build.js';
import { cnnModel } from '../../lib/onnx/models/cnn.js';
import { logisticRegressionModel } from '../../lib/onnx/models/logistic-regression.js';
import type { ModelDefinition } from '../../lib/onnx/models/model.js';
import { resnetModel } from '../../lib/onnx/models/resnet.js';
import { createModel, ModelSpecError } from '../../lib/onnx/models/zoo.js';
import type { OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { createRng } from '../../lib/rng.js';
import { checkModelState, initModelState, readModelState, resetOptimizer, writeModelState, type ModelState } from '../../lib/train/model-state.js';
import { trainModel, type TrainOptions } from '../../lib/train/trainer.js';
import { parseSpec, type ModelSpec, type PipelineSpecInput } from '../../policies/spec.js';

const ADAM: OptimizerConfig = { name: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
const SIDE = 8;
const CNN = cnnModel({ channels: 1, height: SIDE, width: SIDE, numClasses: 4, filters: [8, 16] });
const RESNET = resnetModel({ channels: 3, height: SIDE, width: SIDE, numClasses: 4, widths: [8, 16], blocksPerStage: 1 });

/** Noisy images with a bright 2×2 blob in one quadrant; the class is the quadrant. Fresh arrays per call. */
function quadrantBatches(channels: number, seed: number, count: number, size = 32): Batch[] {
  const rng = createRng(seed);
  const features = channels * SIDE * SIDE;
  const half = SIDE / 2;
  return Array.from({ length: count }, () => {
    const x = Float32Array.from({ length: size * features }, () => 0.3 * rng.normal());
    const y = Int32Array.from({ length: size }, () => rng.int(4));
    y.forEach((q, i) => {
      const top = (q >> 1) * half + rng.int(half - 1);
      const left = (q & 1) * half + rng.int(half - 1);
      for (let c = 0; c < channels; c++) for (let u = 0; u < 2; u++) for (let v = 0; v < 2; v++) {
        x[i * features + (c * SIDE + top + u) * SIDE + left + v]! += 2;
      }
    });
    return { x, y, w: new Float32Array(size).fill(1), size, features };
  });
}

/** Two Gaussian blobs in 6 dims, labels 0/1. */
function binaryBatches(seed: number, count: number, size = 32): Batch[] {
  const centers = [[1, -1, 0.5, 0, 1, -0.5], [-1, 1, -0.5, 0.5, -1, 0.5]];
  const rng = createRng(seed);
  return Array.from({ length: count }, () => {
    const y = Int32Array.from({ length: size }, () => rng.int(2));
    const x = new Float32Array(size * 6);
    y.forEach((c, i) => centers[c]!.forEach((m, j) => { x[i * 6 + j] = m + 0.6 * rng.normal(); }));
    return { x, y, w: new Float32Array(size).fill(1), size, features: 6 };
  });
}

/** Integer targets round(2·x0 − x1 + 0.5·x2 + 3) of a linear teacher: learnable by linear regression up to rounding. */
function regressionBatches(seed: number, count: number, size = 32): Batch[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => {
    const x = Float32Array.from({ length: size * 4 }, () => rng.normal());
    const y = Int32Array.from({ length: size }, (_, i) => Math.round(2 * x[i * 4]! - x[i * 4 + 1]! + 0.5 * x[i * 4 + 2]! + 3));
    return { x, y, w: new Float32Array(size).fill(1), size, features: 4 };
  });
}

const LINEAR_REGRESSION: ModelDefinition = {
  architecture: 'linear-regression',
  inputs: [{ name: 'x', dtype: 'float32', shape: ['B', 4] }],
  loss: 'mse',
  outputSize: 1,
  forward: (t, { x }) => ({ output: linear(t, 'fc', x!, 1), embedding: x!, embeddingSize: 4 }),
};

async function* stream<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

function train(opts: Partial<TrainOptions> & Pick<TrainOptions, 'model' | 'state' | 'batches'>) {
  return trainModel({ optimizer: ADAM, checkpointEvery: 0, ...opts });
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

function assertBitIdentical(a: ModelState, b: ModelState): void {
  assert.equal(a.step, b.step);
  assert.equal(a.rngSeed, b.rngSeed);
  for (const group of ['params', 'buffers', 'optimizer'] as const) {
    assert.deepEqual(Object.keys(a[group]).sort(), Object.keys(b[group]).sort());
    for (const [n, v] of Object.entries(a[group])) assert.ok(bytes(v).equals(bytes(b[group][n]!)), `${group}.${n} differs`);
  }
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tideline-zoo-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The loss of the train-step graph on one batch, unchanged parameters: one SGD step at learning rate 0. */
async function graphLoss(model: ModelDefinition, state: ModelState, batch: Batch): Promise<number> {
  const sgd: OptimizerConfig = { name: 'sgd', lr: 0, momentum: 0, weightDecay: 0 };
  const fresh = resetOptimizer(state, model, sgd);
  return (await trainModel({ model, optimizer: sgd, state: fresh, batches: stream([batch]), checkpointEvery: 0 })).finalLoss;
}

describe('trainModel on image models', () => {
  it('a CNN learns quadrant images fed as [B, 1, 8, 8]; the exported model classifies a holdout set', async () => {
    const losses: number[] = [];
    const r = await train({ model: CNN, state: initModelState(CNN, ADAM, 1), batches: stream(quadrantBatches(1, 1, 150)), onProgress: (p) => losses.push(p.loss) });
    assert.ok(mean(losses.slice(-10)) < 0.3 * mean(losses.slice(0, 5)), `loss ${mean(losses.slice(0, 5))} → ${mean(losses.slice(-10))}`);
    assert.deepEqual(r.state.buffers, {});
    const ev = await evaluateModel(exportInferenceModel(CNN, r.state), stream(quadrantBatches(1, 99, 4, 100)), { inputShape: [1, SIDE, SIDE] });
    assert.equal(ev.count, 400);
    assert.ok(ev.accuracy > 0.9, `holdout accuracy ${ev.accuracy}`);
  });

  it('a ResNet learns them too; its BatchNorm running stats are trained, exported and used by the exported model', async () => {
    const initial = initModelState(RESNET, ADAM, 2);
    const { buffers } = modelParameters(RESNET);
    assert.deepEqual(Object.keys(initial.buffers), buffers.map((b) => b.name));
    assert.ok(initial.buffers['bn1.running_var']!.every((v) => v === 1) && initial.buffers['bn1.running_mean']!.every((v) => v === 0));
    assert.ok(initial.params['bn1.weight']!.every((v) => v === 1), "'ones' parameters start at 1");

    const r = await train({ model: RESNET, state: structuredClone(initial), batches: stream(quadrantBatches(3, 2, 150)) });
    for (const b of buffers) {
      assert.ok(!bytes(r.state.buffers[b.name]!).equals(bytes(initModelState(RESNET, ADAM, 2).buffers[b.name]!)), `${b.name} never moved`);
    }
    const holdout = () => stream(quadrantBatches(3, 98, 4, 100));
    const inputShape = [3, SIDE, SIDE];
    const trained = await evaluateModel(exportInferenceModel(RESNET, r.state), holdout(), { inputShape });
    assert.ok(trained.accuracy > 0.9, `holdout accuracy ${trained.accuracy}`);
    // The same parameters with the initial running stats do far worse (measured: loss 0.51 vs 0.002): the export
    // carries the trained buffers and inference normalizes with them.
    const stale = await evaluateModel(exportInferenceModel(RESNET, { params: r.state.params, buffers: initial.buffers }), holdout(), { inputShape });
    assert.ok(stale.loss > 10 * trained.loss, `loss with initial running stats ${stale.loss}, with trained ones ${trained.loss}`);

    // Published through the store: the same servable model.
    await withTempDir(async (dir) => {
      const store = new ModelStore(dir);
      await writeModelState(join(dir, 'final.state'), r.state);
      const files = await store.publish(3, 7, RESNET, 'final.state');
      assert.ok(Buffer.from(await readFile(store.resolve(files.onnxPath))).equals(Buffer.from(exportInferenceModel(RESNET, r.state))));
      assertBitIdentical((await readModelState(store.resolve(files.statePath))).state, r.state);
    });
  });

  it('a ResNet run split at a checkpoint and resumed from the state file is bit-identical, buffers included', async () => {
    const common = { model: RESNET, schedule: { kind: 'cosine', totalSteps: 16, warmupSteps: 2 } } as const;
    const fresh = () => initModelState(RESNET, ADAM, 3);
    let checkpoint: ModelState | undefined;
    const full = await train({
      ...common, state: fresh(), seed: 5, batches: stream(quadrantBatches(3, 4, 14, 16)), checkpointEvery: 6,
      onCheckpoint: async (s, done) => { if (done === 6) checkpoint = s; },
    });
    assert.equal(Object.keys(checkpoint!.buffers).length, modelParameters(RESNET).buffers.length);

    const data = quadrantBatches(3, 4, 14, 16);
    const first = await train({ ...common, state: fresh(), seed: 5, batches: stream(data.slice(0, 6)) });
    assertBitIdentical(first.state, checkpoint!);
    const restored = await withTempDir(async (dir) => {
      await writeModelState(join(dir, 'ckpt.state'), first.state);
      return (await readModelState(join(dir, 'ckpt.state'))).state;
    });
    assertBitIdentical(restored, first.state);
    const second = await train({ ...common, state: restored, batches: stream(data.slice(6)) });
    assertBitIdentical(second.state, full.state);
  });

  it('a ResNet trains on two intra-op threads as on one (there its strided convs\' dX are columns and Col2Im), up to float rounding', async () => {
    const sgd: OptimizerConfig = { name: 'sgd', lr: 0.05, momentum: 0, weightDecay: 0 };
    const run = (intraOpThreads: number) => trainModel({
      model: RESNET, optimizer: sgd, state: initModelState(RESNET, sgd, 4), batches: stream(quadrantBatches(3, 6, 4, 16)), checkpointEvery: 0, intraOpThreads,
    });
    const one = await run(1);
    const two = await run(2);
    assert.equal(two.steps, 4);
    for (const [name, values] of Object.entries(one.state.params)) {
      assert.ok(!bytes(values).equals(bytes(initModelState(RESNET, sgd, 4).params[name]!)), `${name} never moved`);
      values.forEach((v, i) => assert.ok(Math.abs(two.state.params[name]![i]! - v) <= 1e-4, `${name}[${i}]: ${two.state.params[name]![i]} against ${v}`));
    }
  });

  it('rejects a batch whose features do not fit the model input, naming both sizes', async () => {
    const flat = quadrantBatches(1, 5, 1)[0]!; // 64 features; the ResNet takes 3×8×8 = 192
    await assert.rejects(train({ model: RESNET, state: initModelState(RESNET, ADAM, 1), batches: stream([flat]) }), (e: Error) => {
      assert.match(e.message, /step 1: 64 features/);
      assert.match(e.message, /'x' \[B, 3, 8, 8\] takes 192/);
      return true;
    });
    const onnx = exportInferenceModel(RESNET, initModelState(RESNET, ADAM, 1));
    await assert.rejects(evaluateModel(onnx, stream(quadrantBatches(1, 5, 1)), { inputShape: [3, SIDE, SIDE] }), /64 features.*'x' \[B, 3, 8, 8\] takes 192/);
  });

  it('refuses multi-input models up front', async () => {
    const twoInputs: ModelDefinition = {
      ...LINEAR_REGRESSION, architecture: 'two-tower',
      inputs: [{ name: 'user', dtype: 'float32', shape: ['B', 4] }, { name: 'item', dtype: 'float32', shape: ['B', 4] }],
      forward: (t, { user }) => ({ output: linear(t, 'fc', user!, 1), embedding: user!, embeddingSize: 4 }),
    };
    await assert.rejects(train({ model: twoInputs, state: initModelState(twoInputs, ADAM, 1), batches: stream(regressionBatches(1, 1)) }),
      /two-tower has 2 inputs \(user \(float32\), item \(float32\)\); batches feed one float32 input from x and at most one int64 input/);
  });
});

describe('model state with buffers', () => {
  it('checkModelState names a missing, mis-sized or undeclared tensor; resetOptimizer keeps the buffers', () => {
    const state = initModelState(RESNET, ADAM, 1);
    checkModelState(state, RESNET, ADAM);
    const { 'layer1.0.bn2.running_var': _dropped, ...partial } = state.buffers;
    assert.throws(() => checkModelState({ ...state, buffers: partial }, RESNET, ADAM), /no buffer 'layer1\.0\.bn2\.running_var'/);
    assert.throws(() => checkModelState({ ...state, buffers: { ...state.buffers, 'bn1.running_mean': new Float32Array(3) } }, RESNET, ADAM),
      /buffer 'bn1\.running_mean' has 3 values, expected 8/);
    assert.throws(() => checkModelState({ ...state, buffers: {} }, RESNET, ADAM), /no buffer 'bn1\.running_mean'/);
    assert.throws(() => checkModelState({ ...state, params: { ...state.params, 'fc2.weight': new Float32Array(1) } }, RESNET, ADAM),
      /parameter 'fc2\.weight', which model resnet does not declare/);
    assert.throws(() => checkModelState(state, CNN, ADAM), /parameter 'conv1\.weight' has 216 values, expected 72/);

    const sgd: OptimizerConfig = { name: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0 };
    const reset = resetOptimizer({ ...state, step: 9 }, RESNET, sgd);
    assert.equal(reset.buffers, state.buffers);
    assert.equal(reset.step, 0);
    checkModelState(reset, RESNET, sgd);
  });
});

describe('float-target losses', () => {
  it('bce-logits: logistic regression with one logit trains on 0/1 labels and evaluates with accuracy and BCE', async () => {
    const model = logisticRegressionModel({ inputSize: 6, numClasses: 2, loss: 'bce-logits' });
    assert.equal(model.outputSize, 1);
    assert.throws(() => logisticRegressionModel({ inputSize: 6, numClasses: 3, loss: 'bce-logits' }), /numClasses must be 2/);
    const opt: OptimizerConfig = { ...ADAM, lr: 0.05 };
    const losses: number[] = [];
    const r = await train({ model, optimizer: opt, state: initModelState(model, opt, 1), batches: stream(binaryBatches(1, 80)), onProgress: (p) => losses.push(p.loss) });
    assert.ok(mean(losses.slice(-10)) < 0.1 * mean(losses.slice(0, 5)), `loss ${mean(losses.slice(0, 5))} → ${mean(losses.slice(-10))}`);

    const onnx = exportInferenceModel(model, r.state);
    const ev = await evaluateModel(onnx, stream(binaryBatches(9, 4, 100)), { loss: 'bce-logits' });
    assert.equal(ev.count, 400);
    assert.ok(ev.accuracy > 0.95, `accuracy ${ev.accuracy}`);
    assert.ok(ev.loss > 0 && ev.loss < 0.2, `loss ${ev.loss}`);
    // The evaluator's BCE is the training loss (unit weights) on the same batch.
    const one = await evaluateModel(onnx, stream(binaryBatches(10, 1)), { loss: 'bce-logits' });
    const graph = await graphLoss(model, r.state, binaryBatches(10, 1)[0]!);
    assert.ok(Math.abs(one.loss - graph) < 1e-5, `evaluator ${one.loss} vs train step ${graph}`);

    const bad = binaryBatches(2, 1);
    bad[0]!.y[3] = 2;
    await assert.rejects(train({ model, state: initModelState(model, ADAM, 1), batches: stream(bad) }), /step 1: label 2 is not a binary target/);
  });

  it('mse: a regression model trains on float targets; evaluation reports accuracy 0 and the mean squared error', async () => {
    const model = LINEAR_REGRESSION;
    const opt: OptimizerConfig = { ...ADAM, lr: 0.05 };
    const r = await train({ model, optimizer: opt, state: initModelState(model, opt, 1), batches: stream(regressionBatches(1, 150)) });
    const onnx = exportInferenceModel(model, r.state);
    const ev = await evaluateModel(onnx, stream(regressionBatches(9, 4, 100)), { loss: 'mse' });
    assert.equal(ev.count, 400);
    assert.equal(ev.accuracy, 0);
    // Rounding the targets leaves variance 1/12 ≈ 0.083.
    assert.ok(ev.loss > 0.04 && ev.loss < 0.15, `mse ${ev.loss}`);
    const one = await evaluateModel(onnx, stream(regressionBatches(10, 1)), { loss: 'mse' });
    const graph = await graphLoss(model, r.state, regressionBatches(10, 1)[0]!);
    assert.ok(Math.abs(one.loss - graph) < 1e-4 * Math.max(1, graph), `evaluator ${one.loss} vs train step ${graph}`);
  });
});

describe('DLRM through trainModel and evaluateModel (float x + int64 categorical ids)', () => {
  const DENSE = 13;
  const FIELDS = 4;
  const VOCAB = 8;
  const spec = { architecture: 'dlrm', vocabSize: VOCAB, embeddingDim: 8, bottom: [16, 8], top: [16] } as const satisfies ModelSpec;
  const DLRM = createModel(spec, DENSE, FIELDS);
  const teacher = (() => {
    const rng = createRng(77);
    return {
      w: Array.from({ length: DENSE }, () => 0.4 * rng.normal()),
      // Centered per field, so clicks are not rare and the base rate stays near 1/2.
      score: Array.from({ length: FIELDS }, () => {
        const s = Array.from({ length: VOCAB }, () => 1.5 * rng.normal());
        return s.map((v) => v - mean(s));
      }),
    };
  })();

  /**
   * Criteo-like clicks: 13 dense floats and 4 raw int32 ids per sample. Each id is its bucket plus a random
   * multiple of the vocabulary (negative ids included), so only the in-graph `id mod vocab` recovers the bucket
   * that the label depends on. Fresh arrays per call.
   */
  function clickBatches(seed: number, count: number, size = 64, withIds = true): Batch[] {
    const rng = createRng(seed);
    return Array.from({ length: count }, () => {
      const x = Float32Array.from({ length: size * DENSE }, () => rng.normal());
      const categorical = new Int32Array(size * FIELDS);
      const y = Int32Array.from({ length: size }, (_, s) => {
        let z = 0;
        for (let j = 0; j < DENSE; j++) z += teacher.w[j]! * x[s * DENSE + j]!;
        for (let f = 0; f < FIELDS; f++) {
          const bucket = rng.int(VOCAB);
          categorical[s * FIELDS + f] = bucket + VOCAB * (rng.int(2 ** 28) - 2 ** 27);
          z += teacher.score[f]![bucket]!;
        }
        return rng.next() < 1 / (1 + Math.exp(-2 * z)) ? 1 : 0;
      });
      const batch: Batch = { x, y, w: new Float32Array(size).fill(1), size, features: DENSE };
      return withIds ? { ...batch, categorical, categoricalCount: FIELDS } : batch;
    });
  }

  it('raw ids (negative ones too) train through trainModel; the exported model beats the base rate by far', async () => {
    assert.ok(clickBatches(1, 1)[0]!.categorical!.some((id) => id < 0), 'the data has negative raw ids');
    const losses: number[] = [];
    const r = await train({ model: DLRM, state: initModelState(DLRM, ADAM, 1), batches: stream(clickBatches(1, 200)), onProgress: (p) => losses.push(p.loss) });
    assert.ok(mean(losses.slice(-20)) < 0.6 * mean(losses.slice(0, 5)), `loss ${mean(losses.slice(0, 5))} → ${mean(losses.slice(-20))}`);

    const holdout = clickBatches(99, 4, 250);
    const ones = holdout.reduce((a, b) => a + b.y.reduce((c, v) => c + v, 0), 0) / 1000;
    const baseRate = Math.max(ones, 1 - ones);
    const ev = await evaluateModel(exportInferenceModel(DLRM, r.state), stream(holdout), { loss: 'bce-logits', inputs: DLRM.inputs });
    assert.equal(ev.count, 1000);
    assert.ok(ev.accuracy > baseRate + 0.2, `accuracy ${ev.accuracy}, base rate ${baseRate}`);
    // The in-graph hash is id mod vocab with a non-negative result: the same ids already reduced score identically.
    const reduced = clickBatches(99, 4, 250).map((b) => ({ ...b, categorical: b.categorical!.map((id) => ((id % VOCAB) + VOCAB) % VOCAB) }));
    const same = await evaluateModel(exportInferenceModel(DLRM, r.state), stream(reduced), { loss: 'bce-logits', inputs: DLRM.inputs });
    assert.deepEqual(same, ev);
  });

  it('a run split at a checkpoint and resumed from the state file is bit-identical (the full run stacks 2 steps a run)', async () => {
    const fresh = () => initModelState(DLRM, ADAM, 3);
    let checkpoint: ModelState | undefined;
    const full = await train({
      model: DLRM, state: fresh(), seed: 5, batches: stream(clickBatches(4, 14, 32)), checkpointEvery: 6, stepsPerRun: 2,
      onCheckpoint: async (s, done) => { if (done === 6) checkpoint = s; },
    });
    const data = clickBatches(4, 14, 32);
    const first = await train({ model: DLRM, state: fresh(), seed: 5, batches: stream(data.slice(0, 6)) });
    assertBitIdentical(first.state, checkpoint!);
    const restored = await withTempDir(async (dir) => {
      await writeModelState(join(dir, 'ckpt.state'), first.state);
      return (await readModelState(join(dir, 'ckpt.state'))).state;
    });
    const second = await train({ model: DLRM, state: restored, batches: stream(data.slice(6)) });
    assertBitIdentical(second.state, full.state);
  });

  it('refuses batches without categorical ids or with the wrong count, naming the input and both sizes', async () => {
    const state = () => initModelState(DLRM, ADAM, 1);
    await assert.rejects(train({ model: DLRM, state: state(), batches: stream(clickBatches(5, 1, 8, false)) }),
      /step 1: model input 'sparse' takes 4 categorical ids per sample, but the batch has no categorical ids/);
    const [b] = clickBatches(5, 1, 8);
    const narrow: Batch = { ...b!, categorical: b!.categorical!.slice(0, 8 * 3), categoricalCount: 3 };
    await assert.rejects(train({ model: DLRM, state: state(), batches: stream([narrow]) }),
      /step 1: 3 categorical ids per sample, but model input 'sparse' \[B, 4\] takes 4/);
    const onnx = exportInferenceModel(DLRM, state());
    await assert.rejects(evaluateModel(onnx, stream(clickBatches(5, 1, 8)), { loss: 'bce-logits' }), /2 inputs \(dense, sparse\); give options\.inputs/);
    await assert.rejects(evaluateModel(onnx, stream(clickBatches(5, 1, 8, false)), { loss: 'bce-logits', inputs: DLRM.inputs }),
      /model input 'sparse' takes 4 categorical ids per sample, but the batch has no categorical ids/);
  });

  it('the zoo builds it from the spec; the spec and a dataset without categorical fields are checked', () => {
    const base: Omit<PipelineSpecInput, 'model'> = {
      dataset: { name: 'criteo' }, training: { optimizer: { name: 'adam', lr: 0.001 } }, trigger: { kind: 'dataAmount', every: 1000 },
    };
    const parsed = parseSpec({ ...base, model: { architecture: 'dlrm' } }).model;
    assert.deepEqual(parsed, { architecture: 'dlrm', vocabSize: 4096, embeddingDim: 16, bottom: [64, 16], top: [64] });
    const criteo = createModel(parsed, 13, 26);
    assert.deepEqual(criteo.inputs, [
      { name: 'dense', dtype: 'float32', shape: ['B', 13] }, { name: 'sparse', dtype: 'int64', shape: ['B', 26] },
    ]);
    assert.equal(criteo.loss, 'bce-logits');
    assert.throws(() => parseSpec({ ...base, model: { architecture: 'dlrm', bottom: [64, 32] } }), /model\.bottom: .*must end with embeddingDim 16/);
    assert.throws(() => parseSpec({ ...base, model: { architecture: 'dlrm', numClasses: 2 } }), /model/);
    assert.throws(() => createModel(parsed, 13, 0), (e: Error) => e instanceof ModelSpecError && /model\.architecture: dlrm needs categorical ids/.test(e.message));
    assert.throws(
      () => createModel({ ...parsed, vocabSize: 1_000_000 }, 13, 26),
      (e: Error) => e instanceof ModelSpecError && /model\.vocabSize: 1000000 × model\.embeddingDim 16 × 26 categorical fields/.test(e.message),
    );
    assert.throws(() => parseSpec({ ...base, model: { architecture: 'dlrm', vocabSize: 2 ** 25 } }), /model\.vocabSize: .*exceeds 2\^28/);
  });
});
