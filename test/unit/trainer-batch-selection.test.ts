/**
 * trainModel's batch-then-sample seam (selectBatch) with real ORT sessions: a selection that keeps every batch
 * trains bit-identically to none; the forward a selection sees is the model after the previous step (checked
 * against an independent inference of the checkpointed state), also when it is queued behind that step still in
 * flight; scoring is counted; what cannot work is refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Batch } from '../../lib/data/batch.js';
import { relu } from '../../lib/onnx/layers/activations.js';
import { batchNorm } from '../../lib/onnx/layers/batchnorm.js';
import { linear } from '../../lib/onnx/layers/linear.js';
import { buildInference, buildTrainStep } from '../../lib/onnx/models/build.js';
import { dlrmModel } from '../../lib/onnx/models/dlrm.js';
import { importModel } from '../../lib/onnx/models/imported.js';
import { mlpModel } from '../../lib/onnx/models/mlp.js';
import type { ModelDefinition } from '../../lib/onnx/models/model.js';
import type { OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { SessionHost } from '../../lib/onnx/session-host.js';
import { createRng } from '../../lib/rng.js';
import { initModelState, type ModelState } from '../../lib/train/model-state.js';
import { trainModel, type ForwardOutputs, type SelectBatch, type TrainOptions } from '../../lib/train/trainer.js';

const FEATURES = 6;
const CLASSES = 3;
const HIDDEN = 8;
const ADAM: OptimizerConfig = { name: 'adam', lr: 0.02, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4, clipGradNorm: 1 };
/** Dropout in training (rng_seed feeds), none in the forward. */
const MLP = mlpModel({ inputSize: FEATURES, hidden: [HIDDEN], numClasses: CLASSES, dropout: 0.2 });
/** BatchNorm running statistics are buffers: the forward must be fed them as the previous step left them. */
const BN: ModelDefinition = {
  architecture: 'bn_probe',
  inputs: [{ name: 'x', dtype: 'float32', shape: ['B', FEATURES] }],
  loss: 'softmax-ce',
  outputSize: CLASSES,
  forward(t, { x }) {
    const h = relu(t, batchNorm(t, 'bn1', linear(t, 'fc1', x!, HIDDEN)));
    return { output: linear(t, 'fc2', h, CLASSES), embedding: h, embeddingSize: HIDDEN };
  },
};

/** Fresh arrays each call: the trainer takes ownership of the batches it trains on. */
function batches(seed: number, count: number, size = 16): Batch[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => {
    const y = Int32Array.from({ length: size }, () => rng.int(CLASSES));
    const x = Float32Array.from({ length: size * FEATURES }, (_, k) => (k % FEATURES === y[Math.floor(k / FEATURES)] ? 2 : 0) + rng.normal());
    const w = Float32Array.from({ length: size }, () => rng.uniform(0.5, 1.5));
    return { x, y, w, size, features: FEATURES };
  });
}

async function* stream<T>(items: T[]): AsyncGenerator<T> {
  for (const b of items) yield b;
}

function train(model: ModelDefinition, data: Batch[], opts: Partial<TrainOptions> = {}) {
  return trainModel({ model, optimizer: ADAM, state: initModelState(model, ADAM, 3), batches: stream(data), checkpointEvery: 0, ...opts });
}

function assertBitIdentical(a: ModelState, b: ModelState): void {
  assert.equal(a.step, b.step);
  for (const group of ['params', 'buffers', 'optimizer'] as const) {
    for (const [n, v] of Object.entries(a[group])) assert.ok(Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(b[group][n]!.buffer, b[group][n]!.byteOffset, b[group][n]!.byteLength)), `${group}.${n} differs`);
  }
}

/** Softmax cross-entropy of each row of `output` against its label. */
function perSampleLoss(out: ForwardOutputs, y: Int32Array): number[] {
  return Array.from(y, (label, i) => {
    const row = out.output.subarray(i * out.outputSize, (i + 1) * out.outputSize);
    const max = Math.max(...row);
    return Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0)) + max - row[label]!;
  });
}

/** The rows `keep` of `b`, in fresh arrays, weighted by `scale`. */
function rowsOf(b: Batch, keep: number[], scale: number): Batch {
  const x = new Float32Array(keep.length * b.features);
  keep.forEach((r, i) => x.set(b.x.subarray(r * b.features, (r + 1) * b.features), i * b.features));
  return { x, y: Int32Array.from(keep, (r) => b.y[r]!), w: Float32Array.from(keep, (r) => b.w[r]! * scale), size: keep.length, features: b.features };
}

/** Keeps the half of the batch with the highest loss under the model `forward` runs, at twice the weight. */
const topHalfByLoss: SelectBatch = async (b, forward) => {
  const losses = perSampleLoss(await forward(b), b.y);
  const order = losses.map((_, i) => i).sort((i, j) => losses[j]! - losses[i]! || i - j);
  return rowsOf(b, order.slice(0, b.size / 2).sort((i, j) => i - j), 2);
};

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

describe('trainModel selectBatch (batch-then-sample)', () => {
  for (const model of [MLP, BN]) {
    it(`a selection that scores each batch and keeps it trains bit-identically to none (${model.architecture})`, async () => {
      const losses = { plain: [] as number[], selected: [] as number[] };
      const plain = await train(model, batches(1, 12), { onProgress: (p) => losses.plain.push(p.loss) });
      const keepAll: SelectBatch = async (b, forward) => {
        await forward(b);
        return b;
      };
      const selected = await train(model, batches(1, 12), { selectBatch: keepAll, onProgress: (p) => losses.selected.push(p.loss) });
      assertBitIdentical(selected.state, plain.state);
      assert.deepEqual(losses.selected, losses.plain);
      assert.deepEqual([selected.steps, selected.samples, selected.finalLoss, selected.meanLoss, selected.gradNorm], [plain.steps, plain.samples, plain.finalLoss, plain.meanLoss, plain.gradNorm]);
      assert.deepEqual([plain.scoredSamples, plain.scoringMs], [0, 0]);
      assert.equal(selected.scoredSamples, 12 * 16);
    });

    it(`the forward sees the model after the previous step (${model.architecture})`, async () => {
      const initial = initModelState(model, ADAM, 3);
      const seen: { x: Float32Array; out: ForwardOutputs }[] = [];
      const after: ModelState[] = [];
      const progress: number[] = [];
      const record: SelectBatch = (b, forward) => topHalfByLoss(b, async (scored) => {
        const out = await forward(scored);
        seen.push({ x: scored.x.slice(), out });
        return out;
      });
      const r = await trainModel({
        model, optimizer: ADAM, state: structuredClone(initial), batches: stream(batches(2, 6)), selectBatch: record,
        checkpointEvery: 1, onCheckpoint: async (state) => { after.push(state); }, onProgress: (p) => progress.push(p.samples),
      });
      assert.deepEqual([r.steps, seen.length, after.length], [6, 6, 6]);
      assert.deepEqual(progress, [8, 16, 24, 32, 40, 48], 'progress counts the samples trained on');
      assert.deepEqual([r.samples, r.scoredSamples], [48, 96]);
      assert.ok(r.scoringMs > 0 && Number.isFinite(r.scoringMs), `scoringMs ${r.scoringMs}`);

      const host = new SessionHost();
      try {
        for (const [t, { x, out }] of seen.entries()) {
          const before = t === 0 ? initial : after[t - 1]!;
          const session = await host.createSession(buildInference(model, { ...before.params, ...before.buffers }));
          const expected = await session.run({ x: { type: 'float32', dims: [x.length / FEATURES, FEATURES], data: x } });
          assert.deepEqual([out.outputSize, out.embeddingSize], [CLASSES, HIDDEN]);
          assert.ok(maxAbsDiff(out.output, expected.output!.data as Float32Array) < 1e-5, `step ${t + 1}: output`);
          assert.ok(maxAbsDiff(out.embedding, expected.embedding!.data as Float32Array) < 1e-5, `step ${t + 1}: embedding`);
          await session.release();
        }
      } finally {
        await host.close();
      }
      // The steps changed the model, so each step's forward saw a different one.
      assert.ok(maxAbsDiff(seen[0]!.out.output, seen[1]!.out.output) > 0);
    });

    it(`a forward queued behind the step in flight sees what it sees with no step in flight (${model.architecture})`, async () => {
      /** Each forward's outputs, and the steps reported done when it was asked for. */
      const run = async (checkpointEvery: number) => {
        const seen: { out: ForwardOutputs; stepsDone: number }[] = [];
        let stepsDone = 0;
        const record: SelectBatch = (b, forward) => topHalfByLoss(b, async (scored) => {
          const at = stepsDone;
          const out = await forward(scored);
          seen.push({ out, stepsDone: at });
          return out;
        });
        const r = await train(model, batches(6, 8), {
          selectBatch: record, checkpointEvery, onProgress: (p) => { stepsDone = p.step; },
          ...(checkpointEvery > 0 && { onCheckpoint: async () => {} }),
        });
        return { seen, state: r.state };
      };
      const pipelined = await run(0);
      // A checkpoint after every step waits for it, so no step is in flight when the next batch is scored.
      const serial = await run(1);
      assert.deepEqual(serial.seen.map((s) => s.stepsDone), [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.deepEqual(pipelined.seen.map((s) => s.stepsDone), [0, 0, 1, 2, 3, 4, 5, 6], 'each forward is asked for while the previous step runs');
      for (const [t, { out }] of pipelined.seen.entries()) {
        const expected = serial.seen[t]!.out;
        assert.ok(sameBits(out.output, expected.output), `step ${t + 1}: output`);
        assert.ok(sameBits(out.embedding, expected.embedding), `step ${t + 1}: embedding`);
      }
      assertBitIdentical(pipelined.state, serial.state);
    });
  }

  it('models with host tables: the forward reads the tables the worker holds, as the previous step left them', async () => {
    // A lazily updated table (over 1M values) and a densely updated one, both held in the worker.
    const dlrm = dlrmModel({ denseFeatures: 4, sparseFeatures: 2, vocabSizes: [70_000, 40], embeddingDim: 16, bottom: [16], top: [16] });
    const clicks = (seed: number, count: number, size = 32): Batch[] => {
      const rng = createRng(seed);
      return Array.from({ length: count }, () => {
        const categorical = Int32Array.from({ length: size * 2 }, () => rng.int(1_000_000));
        return {
          x: Float32Array.from({ length: size * 4 }, () => rng.normal()), y: Int32Array.from({ length: size }, () => rng.int(2)),
          w: new Float32Array(size).fill(1), size, features: 4, categorical, categoricalCount: 2,
        };
      });
    };
    const initial = initModelState(dlrm, ADAM, 1);
    const plain = await trainModel({ model: dlrm, optimizer: ADAM, state: structuredClone(initial), batches: stream(clicks(4, 5)), checkpointEvery: 0 });
    const seen: { batch: Batch; out: ForwardOutputs }[] = [];
    const after: ModelState[] = [];
    const keepAll: SelectBatch = async (b, forward) => {
      seen.push({ batch: { ...b, x: b.x.slice(), categorical: b.categorical!.slice() }, out: await forward(b) });
      return b;
    };
    const trainingHost = new SessionHost();
    const selected = await trainModel({
      model: dlrm, optimizer: ADAM, state: structuredClone(initial), batches: stream(clicks(4, 5)), selectBatch: keepAll, host: trainingHost,
      checkpointEvery: 1, onCheckpoint: async (state) => { after.push(state); },
    }).finally(async () => {
      // The forward's session and the held tables went with the call: a pooled host may be lent again.
      assert.equal(await trainingHost.isEmpty(), true);
      await trainingHost.close();
    });
    assertBitIdentical(selected.state, plain.state);
    assert.equal(seen.length, 5);
    const host = new SessionHost();
    try {
      for (const [t, { batch, out }] of seen.entries()) {
        const before = t === 0 ? initial : after[t - 1]!;
        const session = await host.createSession(buildInference(dlrm, { ...before.params, ...before.buffers }));
        const expected = await session.run({
          dense: { type: 'float32', dims: [batch.size, 4], data: batch.x },
          sparse: { type: 'int64', dims: [batch.size, 2], data: BigInt64Array.from(batch.categorical!, (v) => BigInt(v)) },
        });
        assert.ok(maxAbsDiff(out.output, expected.output!.data as Float32Array) < 1e-5, `step ${t + 1}: output`);
        assert.ok(maxAbsDiff(out.embedding, expected.embedding!.data as Float32Array) < 1e-5, `step ${t + 1}: embedding`);
        await session.release();
      }
    } finally {
      await host.close();
    }
    assert.ok(maxAbsDiff(seen[0]!.out.output, seen[4]!.out.output) > 0, 'the steps changed what the forward sees');
  });

  it('a forward without the embedding gives the same outputs and an empty embedding', async () => {
    const outputs: ForwardOutputs[][] = [];
    const both: SelectBatch = async (b, forward) => {
      outputs.push([await forward(b), await forward(b, { embedding: false })]);
      return b;
    };
    await train(MLP, batches(7, 3), { selectBatch: both });
    assert.equal(outputs.length, 3);
    for (const [full, bare] of outputs) {
      assert.ok(sameBits(bare!.output, full!.output));
      assert.deepEqual([bare!.outputSize, bare!.embedding.length, bare!.embeddingSize], [CLASSES, 0, 0]);
      assert.equal(full!.embeddingSize, HIDDEN);
    }
  });

  it('checks the batch a selection returns like any batch', async () => {
    const empty: SelectBatch = async (b) => ({ ...b, x: new Float32Array(0), y: new Int32Array(0), w: new Float32Array(0), size: 0 });
    await assert.rejects(train(MLP, batches(4, 2), { selectBatch: empty }), /batch selectBatch returned for step 1: size 0/);
    const unweighted: SelectBatch = async (b) => ({ ...b, w: b.w.subarray(1) });
    await assert.rejects(train(MLP, batches(4, 2), { selectBatch: unweighted }), /batch selectBatch returned for step 1: y\/w lengths 16\/15/);
    const badLabel: SelectBatch = async (b) => ({ ...b, y: b.y.map(() => CLASSES) });
    await assert.rejects(train(MLP, batches(4, 2), { selectBatch: badLabel }), /step 1: label 3 outside/);
    const badForward: SelectBatch = async (b, forward) => {
      await forward({ ...b, features: FEATURES + 1 });
      return b;
    };
    await assert.rejects(train(MLP, batches(4, 2), { selectBatch: badForward }), /forward of selectBatch for step 1: 7 features/);
  });

  describe('refuses, before any step, what batch-then-sample cannot do', () => {
    let called = false;
    const selectBatch: SelectBatch = async (b) => {
      called = true;
      return b;
    };

    it('multi-step runs', async () => {
      await assert.rejects(train(MLP, batches(5, 4), { selectBatch, stepsPerRun: 2 }), /selectBatch \(batch-then-sample\) needs single steps .*stepsPerRun is 2/);
      assert.equal(called, false);
    });

    it('supplied graphs', async () => {
      const zoo = mlpModel({ inputSize: FEATURES, hidden: [HIDDEN], numClasses: CLASSES });
      const initial = initModelState(zoo, ADAM, 1);
      const supplied = importModel(
        { label: 'train.onnx', bytes: buildTrainStep(zoo, ADAM) },
        { label: 'inference.onnx', bytes: buildInference(zoo, { ...initial.params }) },
        { loss: 'softmax-ce' },
      );
      await assert.rejects(
        trainModel({ model: supplied, optimizer: ADAM, state: initModelState(supplied, ADAM, 1), batches: stream(batches(5, 2)), checkpointEvery: 0, selectBatch }),
        /selectBatch \(batch-then-sample\) needs a derived inference graph, but model .* comes as supplied ONNX graphs/,
      );
      assert.equal(called, false);
    });
  });
});
