/**
 * trainModel, evaluateModel and the model-state file, end to end with real ORT sessions in the worker.
 * Data: Gaussian blobs, one per class, well separated, so a small MLP learns them in a few dozen steps.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Batch } from '../../lib/data/batch.js';
import { evaluateModel } from '../../lib/eval/evaluate.js';
import { exportInferenceModel } from '../../lib/models/export.js';
import { GraphBuilder } from '../../lib/onnx/graph.js';
import { buildInference, modelParameters } from '../../lib/onnx/models/build.js';
import { mlpModel, type MlpConfig } from '../../lib/onnx/models/mlp.js';
import type { OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { SessionHost, type TensorData } from '../../lib/onnx/session-host.js';
import { checkModelState, initModelState, readModelState, resetOptimizer, writeModelState, type ModelState } from '../../lib/train/model-state.js';
import { createRng } from '../../lib/rng.js';
import { NonFiniteLossError, trainModel, type TrainOptions } from '../../lib/train/trainer.js';

const MODEL: MlpConfig = { inputSize: 8, hidden: [16], numClasses: 3 };
const DEF = mlpModel(MODEL);
const SGD: OptimizerConfig = { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-4 };
const ADAM: OptimizerConfig = { name: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

const centers = (() => {
  const rng = createRng(2024);
  return Array.from({ length: MODEL.numClasses }, () => Float32Array.from({ length: MODEL.inputSize }, () => rng.uniform(-3, 3)));
})();

/** Deterministic blob batches; fresh arrays each call, since the trainer takes ownership of what it is given. */
function blobBatches(seed: number, count: number, size = 32): Batch[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => {
    const y = Int32Array.from({ length: size }, () => rng.int(MODEL.numClasses));
    const x = new Float32Array(size * MODEL.inputSize);
    y.forEach((c, i) => centers[c]!.forEach((m, j) => { x[i * MODEL.inputSize + j] = m + rng.normal(); }));
    const w = Float32Array.from({ length: size }, () => rng.uniform(0.5, 1.5));
    return { x, y, w, size, features: MODEL.inputSize };
  });
}

async function* stream<T>(items: T[]): AsyncGenerator<T> {
  for (const b of items) yield b;
}

function fresh(opt: OptimizerConfig, seed = 1): ModelState {
  return initModelState(DEF, opt, seed);
}

function train(opts: Partial<TrainOptions> & Pick<TrainOptions, 'optimizer' | 'state' | 'batches'>) {
  return trainModel({ model: DEF, checkpointEvery: 0, ...opts });
}

function assertBitIdentical(a: ModelState, b: ModelState): void {
  assert.equal(a.step, b.step);
  for (const group of ['params', 'buffers', 'optimizer'] as const) {
    assert.deepEqual(Object.keys(a[group]).sort(), Object.keys(b[group]).sort());
    for (const [n, v] of Object.entries(a[group])) {
      assert.ok(Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(b[group][n]!.buffer, b[group][n]!.byteOffset, b[group][n]!.byteLength)), `${group}.${n} differs`);
    }
  }
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tideline-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('trainModel', () => {
  for (const opt of [SGD, ADAM]) {
    it(`decreases the loss on separable blobs (${opt.name})`, async () => {
      const losses: number[] = [];
      const steps = 60;
      const r = await train({ optimizer: opt, state: fresh(opt), batches: stream(blobBatches(1, steps)), onProgress: (p) => losses.push(p.loss) });
      assert.equal(r.steps, steps);
      assert.equal(r.samples, steps * 32);
      assert.equal(r.state.step, steps);
      assert.equal(losses.length, steps);
      assert.equal(r.finalLoss, losses.at(-1));
      assert.ok(Math.abs(r.meanLoss - mean(losses)) < 1e-9);
      const start = mean(losses.slice(0, 5));
      const end = mean(losses.slice(-10));
      assert.ok(end < 0.3 * start, `loss ${start} → ${end}`);
    });
  }

  it('is deterministic: same seed and batches give bit-identical state', async () => {
    const run = () => train({ optimizer: ADAM, state: fresh(ADAM, 5), batches: stream(blobBatches(3, 20)) });
    assertBitIdentical((await run()).state, (await run()).state);
  });

  it('resumes from a checkpoint bit-identically to an uninterrupted run', async () => {
    // A step-dependent schedule and Adam's bias correction both depend on the global step surviving the split.
    const learningRate = (step: number): number => 0.02 * 0.95 ** step;
    const checkpoints: { state: ModelState; stepsDone: number }[] = [];
    const full = await train({
      optimizer: ADAM, state: fresh(ADAM, 9), batches: stream(blobBatches(4, 30)), learningRate, checkpointEvery: 12,
      onCheckpoint: async (state, stepsDone) => { checkpoints.push({ state, stepsDone }); },
    });
    assert.deepEqual(checkpoints.map((c) => [c.state.step, c.stepsDone]), [[12, 12], [24, 24]]);

    const data = blobBatches(4, 30);
    const first = await train({ optimizer: ADAM, state: fresh(ADAM, 9), batches: stream(data.slice(0, 12)), learningRate });
    assertBitIdentical(first.state, checkpoints[0]!.state);
    const { state: restored, extra } = await withTempDir(async (dir) => {
      const path = join(dir, 'ckpt.bin');
      await writeModelState(path, first.state, { note: 'half' });
      return readModelState(path);
    });
    assert.deepEqual(extra, { note: 'half' });
    const progressSteps: number[] = [];
    const second = await train({
      optimizer: ADAM, state: restored, batches: stream(data.slice(12)), learningRate, checkpointEvery: 12,
      onCheckpoint: async (state, stepsDone) => {
        assert.equal(stepsDone, 12);
        assertBitIdentical(state, checkpoints[1]!.state);
      },
      onProgress: (p) => progressSteps.push(p.step),
    });
    assertBitIdentical(second.state, full.state);
    // Progress and checkpoint cadence count this call's steps; the state carries the global count.
    assert.deepEqual([progressSteps[0], progressSteps.at(-1), second.steps, second.state.step], [1, 18, 18, 30]);
  });

  it('trains in parts on a host it is given, as in one call, and leaves the host open and its store empty', async () => {
    // The trainer transfers what it trains on, so each run gets batches of its own.
    const whole = await train({ optimizer: ADAM, state: fresh(ADAM, 3), batches: stream(blobBatches(6, 24)) });
    const data = blobBatches(6, 24);
    const host = new SessionHost();
    try {
      let state = fresh(ADAM, 3);
      for (const part of [data.slice(0, 10), data.slice(10, 17), data.slice(17)]) {
        state = (await train({ optimizer: ADAM, state, batches: stream(part), host })).state;
      }
      assertBitIdentical(state, whole.state);
      // The state went back with each call, and the sessions were released: the worker keeps nothing for the next
      // one, so a pooled host may be lent again (session-host-pool.ts).
      await assert.rejects(host.get(Object.keys(state.params)), /no stored tensor/);
      assert.equal(await host.isEmpty(), true);
      await host.put({ probe: { type: 'float32', dims: [1], data: Float32Array.of(7) } });
      assert.deepEqual([...(await host.get(['probe'])).probe!.data], [7]);
    } finally {
      await host.close();
    }
  });

  it('throws NonFiniteLossError naming the step when the input contains NaN', async () => {
    const data = blobBatches(5, 6);
    data[3]!.x[7] = NaN;
    await assert.rejects(train({ optimizer: SGD, state: fresh(SGD), batches: stream(data) }), (e: unknown) => {
      assert.ok(e instanceof NonFiniteLossError);
      assert.equal(e.step, 4);
      assert.ok(Number.isNaN(e.loss));
      assert.match(e.message, /step 4\b/);
      assert.match(e.message, /NaN/);
      return true;
    });
  });

  it('throws NonFiniteLossError when an absurd learning rate blows the model up', async () => {
    const opt: OptimizerConfig = { ...SGD, lr: 1e30 };
    await assert.rejects(train({ optimizer: opt, state: fresh(opt), batches: stream(blobBatches(6, 10)) }), (e: unknown) => {
      assert.ok(e instanceof NonFiniteLossError);
      assert.ok(e.step >= 2, `step ${e.step}`);
      assert.match(e.message, new RegExp(`step ${e.step}\\b`));
      return true;
    });
  });

  it('continues from a state with a fresh optimizer', async () => {
    const trained = (await train({ optimizer: SGD, state: fresh(SGD), batches: stream(blobBatches(7, 5)) })).state;
    const reset = resetOptimizer(trained, DEF, ADAM);
    assert.equal(reset.step, 0);
    assert.ok(Object.values(reset.optimizer).every((v) => v.every((x) => x === 0)));
    const r = await train({ optimizer: ADAM, state: reset, batches: stream(blobBatches(8, 3)) });
    assert.equal(r.state.step, 3);
  });

  it('takes the state it starts from, moving its arrays to the worker; a rejected state stays whole', async () => {
    const given = fresh(ADAM);
    const r = await train({ optimizer: ADAM, state: given, batches: stream(blobBatches(2, 3)) });
    for (const [name, values] of Object.entries({ ...given.params, ...given.optimizer })) assert.equal(values.length, 0, `${name} left behind`);
    assert.equal(r.state.params['fc1.weight']!.length, 8 * 16);
    const mismatched = fresh(SGD);
    await assert.rejects(train({ optimizer: ADAM, state: mismatched, batches: stream(blobBatches(2, 3)) }), /fc1\.weight__m/);
    for (const [name, values] of Object.entries(mismatched.params)) assert.ok(values.length > 0, name);
  });

  it('rejects a state that does not match the model and optimizer', async () => {
    await assert.rejects(train({ optimizer: ADAM, state: fresh(SGD), batches: stream([]) }), /fc1\.weight__m/);
  });

  it('rejects a batch with out-of-range labels or the wrong feature count', async () => {
    const bad = blobBatches(9, 2);
    bad[1]!.y[0] = 3;
    await assert.rejects(train({ optimizer: SGD, state: fresh(SGD), batches: stream(bad) }), /step 2: label 3/);
    const wide = { ...blobBatches(9, 1)[0]!, features: 9 };
    await assert.rejects(train({ optimizer: SGD, state: fresh(SGD), batches: stream([wide]) }), /9 features/);
  });

  it('aborts promptly, mid-run and while waiting for a batch', async () => {
    const ac = new AbortController();
    const t0 = performance.now();
    await assert.rejects(
      train({ optimizer: SGD, state: fresh(SGD), batches: stream(blobBatches(10, 500)), signal: ac.signal, onProgress: (p) => { if (p.step === 3) ac.abort(); } }),
      { name: 'AbortError' },
    );
    const stalled = new AbortController();
    async function* neverEnding(): AsyncGenerator<Batch> {
      yield blobBatches(11, 1)[0]!;
      await new Promise(() => {});
    }
    setTimeout(() => stalled.abort(), 300);
    await assert.rejects(train({ optimizer: SGD, state: fresh(SGD), batches: neverEnding(), signal: stalled.signal }), { name: 'AbortError' });
    assert.ok(performance.now() - t0 < 3000);
  });

  it('keeps the main event loop responsive while training', async () => {
    const model: MlpConfig = { inputSize: 784, hidden: [256], numClasses: 10 };
    const rng = createRng(12);
    const size = 256;
    const x = Float32Array.from({ length: size * 784 }, () => rng.next());
    const y = Int32Array.from({ length: size }, () => rng.int(10));
    const batches: Batch[] = Array.from({ length: 60 }, () => ({ x: x.slice(), y, w: new Float32Array(size).fill(1), size, features: 784 }));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = performance.now();
    try {
      const def = mlpModel(model);
      await trainModel({ model: def, optimizer: ADAM, state: initModelState(def, ADAM, 1), batches: stream(batches), checkpointEvery: 0 });
    } finally {
      clearInterval(timer);
    }
    const elapsed = performance.now() - t0;
    assert.ok(elapsed > 150, `run too short to tell (${elapsed} ms)`);
    // A blocked loop ticks ~0 times; a free one ~elapsed/5, less on a loaded 2-core box.
    assert.ok(ticks >= (elapsed / 5) * 0.25, `${ticks} ticks in ${elapsed.toFixed(0)} ms`);
  });

  it('works when the process was started with the tsx CLI', async () => {
    const cli = fileURLToPath(import.meta.resolve('tsx/cli'));
    const trainer = new URL('../../lib/train/trainer.ts', import.meta.url).href;
    const states = new URL('../../lib/train/model-state.ts', import.meta.url).href;
    const mlp = new URL('../../lib/onnx/models/mlp.ts', import.meta.url).href;
    const script = `Promise.all([import(${JSON.stringify(trainer)}), import(${JSON.stringify(states)}), import(${JSON.stringify(mlp)})]).then(async ([t, s, m]) => {
      const opt = { name: 'sgd', lr: 0.1, momentum: 0, weightDecay: 0 };
      const model = m.mlpModel({ inputSize: 3, hidden: [], numClasses: 2 });
      const state = s.initModelState(model, opt, 1);
      async function* batches() { yield { x: new Float32Array(6), y: new Int32Array([0, 1]), w: new Float32Array([1, 1]), size: 2, features: 3 }; }
      const r = await t.trainModel({ model, optimizer: opt, state, batches: batches(), checkpointEvery: 0 });
      console.log('steps=' + r.steps);
    });`;
    const { stdout } = await promisify(execFile)(process.execPath, [cli, '-e', script]);
    assert.match(stdout, /steps=1/);
  });
});

describe('evaluateModel', () => {
  it('scores the exported model highly on the training distribution', async () => {
    const r = await train({ optimizer: ADAM, state: fresh(ADAM), batches: stream(blobBatches(20, 60)) });
    const onnx = exportInferenceModel(DEF, r.state);
    const holdout = blobBatches(21, 10, 100);
    const ev = await evaluateModel(onnx, stream(holdout));
    assert.equal(ev.count, 1000);
    assert.ok(ev.accuracy > 0.95, `accuracy ${ev.accuracy}`);
    assert.ok(ev.loss > 0 && ev.loss < 0.3, `loss ${ev.loss}`);
  });

  it('returns zeros for no data', async () => {
    const onnx = exportInferenceModel(DEF, fresh(SGD));
    assert.deepEqual(await evaluateModel(onnx, stream([])), { count: 0, accuracy: 0, loss: 0 });
  });
});

describe('model state files', () => {
  it('round-trip exactly, and a truncated or corrupt file is reported by name', () => withTempDir(async (dir) => {
    const state = { ...fresh(ADAM, 3), step: 17 };
    state.optimizer['fc1.bias__v']![2] = 0.5;
    const path = join(dir, 'nested', 'state.bin');
    await writeModelState(path, state, { pipeline: 4, trigger: 'x' });
    const { state: back, extra } = await readModelState(path);
    assertBitIdentical(back, state);
    assert.deepEqual(extra, { pipeline: 4, trigger: 'x' });
    assert.deepEqual(back.buffers, {});

    const size = (await readFile(path)).length;
    await truncate(path, size - 10);
    await assert.rejects(readModelState(path), (e: Error) => e.message.includes(path) && /truncated/.test(e.message));
    await writeFile(path, 'not a model state');
    await assert.rejects(readModelState(path), (e: Error) => e.message.includes(path));
  }));

  it('initialization is the one Kaiming-uniform stream over the parameters in order, as before buffers existed', () => {
    const rng = createRng(3);
    const state = fresh(ADAM, 3);
    for (const s of modelParameters(DEF).params) {
      const bound = Math.sqrt(6 / s.fanIn);
      const expected = Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () => (s.init === 'zeros' ? 0 : rng.uniform(-bound, bound)));
      assert.deepEqual(state.params[s.name], expected, s.name);
    }
    assert.deepEqual(state.buffers, {});
  });

  it('a file in the format written before buffers existed reads with empty buffers, and is what a state without buffers is still written as', () => withTempDir(async (dir) => {
    const state: ModelState = { ...fresh(SGD, 4), step: 5, rngSeed: 11 };
    // The version-1 layout, encoded independently: magic, u32 header length, JSON header, 4-aligned float32 blobs.
    const tensors = [...Object.entries(state.params).map(([n, d]) => ['params', n, d] as const), ...Object.entries(state.optimizer).map(([n, d]) => ['optimizer', n, d] as const)];
    const json = Buffer.from(JSON.stringify({
      version: 1, step: 5, rngSeed: 11, tensors: tensors.map(([group, name, d]) => ({ group, name, length: d.length })), extra: { old: true },
    }));
    const head = Buffer.alloc(Math.ceil((12 + json.length) / 4) * 4);
    head.write('TLSTATE1', 'latin1');
    head.writeUInt32LE(json.length, 8);
    json.copy(head, 12);
    const legacy = Buffer.concat([head, ...tensors.map(([, , d]) => Buffer.from(d.buffer, d.byteOffset, d.byteLength))]);
    const path = join(dir, 'legacy.state');
    await writeFile(path, legacy);

    const { state: back, extra } = await readModelState(path);
    assert.deepEqual(extra, { old: true });
    assert.deepEqual(back.buffers, {});
    assertBitIdentical(back, state);
    assert.equal(back.rngSeed, 11);
    checkModelState(back, DEF, SGD);
    const r = await train({ optimizer: SGD, state: back, batches: stream(blobBatches(30, 2)) });
    assert.equal(r.state.step, 7);

    const rewritten = join(dir, 'rewritten.state');
    await writeModelState(rewritten, state, { old: true });
    assert.ok((await readFile(rewritten)).equals(legacy), 'a state without buffers is written byte-identically to the old format');
  }));
});

describe('SessionHost', () => {
  it('runs sessions on stored and inline feeds, survives a failed run, and closes', async () => {
    const host = new SessionHost();
    try {
      const specs = modelParameters(DEF).params;
      const params = fresh(SGD).params;
      await host.put(Object.fromEntries(specs.map((s) => [s.name, { type: 'float32', dims: s.shape, data: params[s.name]! } as TensorData])));
      const session = await host.createSession(buildInference(DEF));
      assert.deepEqual(session.outputNames.sort(), ['embedding', 'output']);
      const stored = Object.fromEntries(specs.map((s) => [s.name, { stored: s.name }]));
      const x: TensorData = { type: 'float32', dims: [2, MODEL.inputSize], data: new Float32Array(2 * MODEL.inputSize).fill(1) };

      const out = await session.run({ ...stored, x }, { keep: { embedding: 'emb' }, fetch: ['output'] });
      assert.deepEqual(Object.keys(out), ['output']);
      assert.deepEqual(out.output!.dims, [2, MODEL.numClasses]);
      assert.deepEqual((await host.get(['emb'])).emb!.dims, [2, MODEL.hidden[0]]);

      const wrong: TensorData = { ...x, dims: [1, MODEL.inputSize] };
      await assert.rejects(session.run({ ...stored, x: wrong }), /onnxruntime:/);
      const again = await session.run({ ...stored, x });
      assert.deepEqual(again.output!.data, out.output!.data);

      await session.release();
      await assert.rejects(session.run({ ...stored, x }), /no session/);
    } finally {
      await host.close();
    }
    await assert.rejects(host.get(['emb']), /closed/);
  });

  it('runSteps: each run reads the stored tensors the run before kept; fetched outputs come back stacked', async () => {
    const g = new GraphBuilder('accumulate');
    const acc = g.input('acc', 'float32', [1]);
    const x = g.input('x', 'float32', [1]);
    g.output('acc__new', g.op('Add', [acc, x]), 'float32', [1]);
    g.output('seen', g.op('Identity', [acc]), 'float32', [1]);
    const host = new SessionHost();
    try {
      await host.put({ acc: { type: 'float32', dims: [1], data: Float32Array.of(10) } });
      const session = await host.createSession(g.toBytes());
      const step = (v: number) => ({ acc: { stored: 'acc' }, x: { type: 'float32', dims: [1], data: Float32Array.of(v) } as TensorData });
      const out = await session.runSteps([step(1), step(2), step(3)], { fetch: ['seen'], keep: { acc__new: 'acc' }, transfer: true });
      assert.deepEqual(out.seen!.dims, [3, 1]);
      assert.deepEqual(Array.from(out.seen!.data as Float32Array), [10, 11, 13]);
      assert.deepEqual(Array.from((await host.get(['acc'])).acc!.data as Float32Array), [16]);
      await assert.rejects(session.runSteps([step(1), { acc: { stored: 'acc' } }], { fetch: ['seen'], keep: { acc__new: 'acc' } }), /onnxruntime:/);
      assert.deepEqual(Array.from((await host.get(['acc'])).acc!.data as Float32Array), [17], 'the steps before a failed one stay done');
    } finally {
      await host.close();
    }
  });
});
