/**
 * Learning-rate schedules and rng_seed values as pure functions of the step, then through trainModel: a run
 * with a schedule, parameter groups and clipping resumes from a checkpoint bit-identically, and a CUDA request
 * on a machine without CUDA falls back to the CPU with one warning.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Batch } from '../../lib/data/batch.js';
import { evaluateModel } from '../../lib/eval/evaluate.js';
import { exportInferenceModel } from '../../lib/models/export.js';
import { buildInference } from '../../lib/onnx/models/build.js';
import { mlpModel, type MlpConfig } from '../../lib/onnx/models/mlp.js';
import type { OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { SessionHost } from '../../lib/onnx/session-host.js';
import { createRng } from '../../lib/rng.js';
import { initModelState, readModelState, writeModelState, type ModelState } from '../../lib/train/model-state.js';
import { checkSchedule, learningRateAt, learningRatesAt, rngSeedAt, type ScheduleConfig } from '../../lib/train/schedules.js';
import { trainModel, type TrainOptions } from '../../lib/train/trainer.js';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

describe('learningRateAt', () => {
  it('constant, and no schedule, give the base rate at every step', () => {
    for (const step of [0, 1, 1000]) {
      assert.equal(learningRateAt(0.1, undefined, step), 0.1);
      assert.equal(learningRateAt(0.1, { kind: 'constant' }, step), 0.1);
    }
  });

  it('step decay multiplies by gamma every `every` steps', () => {
    const s: ScheduleConfig = { kind: 'step', every: 10, gamma: 0.5 };
    assert.deepEqual([0, 9, 10, 19, 20, 35].map((t) => learningRateAt(0.8, s, t)), [0.8, 0.8, 0.4, 0.4, 0.2, 0.1]);
  });

  it('cosine goes from the base rate to minLr over totalSteps, then stays there', () => {
    const s: ScheduleConfig = { kind: 'cosine', totalSteps: 100, minLr: 0.01 };
    close(learningRateAt(0.1, s, 0), 0.1);
    close(learningRateAt(0.1, s, 50), 0.055);
    close(learningRateAt(0.1, s, 25), 0.01 + 0.09 * (1 + Math.SQRT1_2) / 2);
    close(learningRateAt(0.1, s, 100), 0.01);
    close(learningRateAt(0.1, s, 500), 0.01);
    close(learningRateAt(0.1, { kind: 'cosine', totalSteps: 4 }, 2), 0.05);
  });

  it('linear warm-up ramps to the base rate, then the decay starts from where it ends', () => {
    const warm = (s: ScheduleConfig) => [0, 4, 9].map((t) => learningRateAt(1, s, t));
    for (const s of [{ kind: 'constant' }, { kind: 'step', every: 5, gamma: 0.1 }, { kind: 'cosine', totalSteps: 110 }] as ScheduleConfig[]) {
      assert.deepEqual(warm({ ...s, warmupSteps: 10 }), [0.1, 0.5, 1]);
      assert.equal(learningRateAt(1, { ...s, warmupSteps: 10 }, 10), 1);
    }
    close(learningRateAt(1, { kind: 'step', every: 5, gamma: 0.1, warmupSteps: 10 }, 15), 0.1);
    // totalSteps counts the warm-up: the cosine spans steps 10..110.
    close(learningRateAt(1, { kind: 'cosine', totalSteps: 110, warmupSteps: 10 }, 60), 0.5);
    close(learningRateAt(1, { kind: 'cosine', totalSteps: 110, warmupSteps: 10 }, 110), 0);
  });

  it('learningRatesAt schedules every group from its own base rate', () => {
    const opt: OptimizerConfig = {
      name: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0, groups: [{ match: 'emb.', lr: 1 }, { match: 'top.', weightDecay: 0 }],
    };
    assert.deepEqual(learningRatesAt(opt, { kind: 'step', every: 1, gamma: 0.5 }, 2), { lr: 0.025, lr__0: 0.25, lr__1: 0.025 });
    assert.deepEqual(learningRatesAt(opt, undefined, 7), { lr: 0.1, lr__0: 1, lr__1: 0.1 });
  });

  it('checkSchedule names the bad field', () => {
    assert.throws(() => checkSchedule({ kind: 'step', every: 0, gamma: 0.5 }), /every 0/);
    assert.throws(() => checkSchedule({ kind: 'step', every: 2, gamma: 0 }), /gamma 0/);
    assert.throws(() => checkSchedule({ kind: 'cosine', totalSteps: 10, warmupSteps: 10 }), /totalSteps 10/);
    assert.throws(() => checkSchedule({ kind: 'cosine', totalSteps: 10, minLr: -1 }), /minLr -1/);
    assert.throws(() => checkSchedule({ kind: 'constant', warmupSteps: 1.5 }), /warmupSteps 1\.5/);
    checkSchedule({ kind: 'cosine', totalSteps: 11, warmupSteps: 10, minLr: 0 });
  });
});

describe('rngSeedAt', () => {
  it('is a pure function of (seed, step), exact in float32, and differs between steps and seeds', () => {
    const seeds = Array.from({ length: 2000 }, (_, t) => rngSeedAt(7, t + 1));
    assert.deepEqual(seeds, Array.from({ length: 2000 }, (_, t) => rngSeedAt(7, t + 1)));
    assert.ok(seeds.every((s) => Number.isInteger(s) && s >= 0 && s < 2 ** 24 && Math.fround(s) === s));
    assert.ok(new Set(seeds).size > 1990, `${new Set(seeds).size} distinct seeds in 2000 steps`);
    assert.notEqual(rngSeedAt(8, 1), rngSeedAt(7, 1));
    assert.notEqual(rngSeedAt(7, 2 ** 32 + 1), rngSeedAt(7, 1));
  });
});

const MODEL: MlpConfig = { inputSize: 6, hidden: [12], numClasses: 3 };
const DEF = mlpModel(MODEL);

/** Labels of a fixed random linear teacher: learnable, deterministic, fresh arrays per call (the trainer takes them). */
function teacherBatches(seed: number, count: number, size = 16): Batch[] {
  const teacher = createRng(99);
  const w = Array.from({ length: MODEL.numClasses * MODEL.inputSize }, () => teacher.normal());
  const rng = createRng(seed);
  return Array.from({ length: count }, () => {
    const x = Float32Array.from({ length: size * MODEL.inputSize }, () => rng.normal());
    const y = Int32Array.from({ length: size }, (_, i) => {
      const scores = Array.from({ length: MODEL.numClasses }, (_, c) => x.subarray(i * 6, i * 6 + 6).reduce((a, v, j) => a + v * w[c * 6 + j]!, 0));
      return scores.indexOf(Math.max(...scores));
    });
    return { x, y, w: new Float32Array(size).fill(1), size, features: MODEL.inputSize };
  });
}

async function* stream<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

function train(opts: Partial<TrainOptions> & Pick<TrainOptions, 'optimizer' | 'state' | 'batches'>) {
  return trainModel({ model: DEF, checkpointEvery: 0, ...opts });
}

function assertBitIdentical(a: ModelState, b: ModelState): void {
  assert.equal(a.step, b.step);
  assert.equal(a.rngSeed, b.rngSeed);
  for (const group of ['params', 'buffers', 'optimizer'] as const) {
    assert.deepEqual(Object.keys(a[group]).sort(), Object.keys(b[group]).sort());
    for (const [n, v] of Object.entries(a[group])) {
      assert.ok(Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(b[group][n]!.buffer, b[group][n]!.byteOffset, b[group][n]!.byteLength)), `${group}.${n} differs`);
    }
  }
}

// Modyn's DLRM setup in miniature: the first layer on its own rate without decay, the head's bias on a slower one.
const ADAMW_GROUPS: OptimizerConfig = {
  name: 'adamw', lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, clipGradNorm: 0.5,
  groups: [{ match: 'fc1.', lr: 0.03, weightDecay: 0 }, { match: 'fc2.bias', lr: 0.002 }],
};
const WARM_COSINE: ScheduleConfig = { kind: 'cosine', totalSteps: 24, warmupSteps: 4, minLr: 0.001 };

describe('trainModel with schedules and parameter groups', () => {
  it('a schedule feeds the same rates as the equivalent learningRate callback', async () => {
    const opt: OptimizerConfig = { name: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0 };
    const schedule: ScheduleConfig = { kind: 'step', every: 3, gamma: 0.5, warmupSteps: 2 };
    const state = () => initModelState(DEF, opt, 3);
    const a = await train({ optimizer: opt, state: state(), batches: stream(teacherBatches(1, 10)), schedule });
    const b = await train({ optimizer: opt, state: state(), batches: stream(teacherBatches(1, 10)), learningRate: (t) => learningRateAt(0.1, schedule, t) });
    assertBitIdentical(a.state, b.state);
    await assert.rejects(train({ optimizer: opt, state: state(), batches: stream([]), schedule, learningRate: () => 1 }), /not both/);
    await assert.rejects(train({ optimizer: opt, state: state(), batches: stream([]), schedule: { kind: 'step', every: 0, gamma: 1 } }), /every 0/);
  });

  it('resumes from a checkpoint bit-identically, with the seed recorded in the state', async () => {
    const fresh = () => initModelState(DEF, ADAMW_GROUPS, 5);
    const common = { optimizer: ADAMW_GROUPS, schedule: WARM_COSINE } as const;
    const progress: { loss: number; gradNorm?: number }[] = [];
    let checkpoint: ModelState | undefined;
    const full = await train({
      ...common, state: fresh(), seed: 77, batches: stream(teacherBatches(2, 20)), checkpointEvery: 8,
      onCheckpoint: async (s, done) => { if (done === 8) checkpoint = s; },
      onProgress: (p) => progress.push(p),
    });
    assert.equal(full.state.rngSeed, 77);
    assert.equal(checkpoint?.rngSeed, 77);
    assert.ok(progress.every((p) => p.gradNorm! > 0));
    assert.equal(full.gradNorm!.max, Math.max(...progress.map((p) => p.gradNorm!)));
    assert.equal(full.gradNorm!.clippedSteps, progress.filter((p) => p.gradNorm! > 0.5).length);
    assert.ok(full.gradNorm!.clippedSteps > 0 && full.gradNorm!.clippedSteps < 20, `clipped ${full.gradNorm!.clippedSteps} of 20`);
    assert.ok(full.finalLoss < progress[0]!.loss, `loss ${progress[0]!.loss} → ${full.finalLoss}`);

    const data = teacherBatches(2, 20);
    const first = await train({ ...common, state: fresh(), seed: 77, batches: stream(data.slice(0, 8)) });
    assertBitIdentical(first.state, checkpoint!);
    const dir = await mkdtemp(join(tmpdir(), 'tideline-sched-'));
    try {
      await writeModelState(join(dir, 'ckpt.state'), first.state);
      const { state: restored } = await readModelState(join(dir, 'ckpt.state'));
      assert.equal(restored.rngSeed, 77);
      // No seed option: the resumed run takes the one recorded in the checkpoint.
      const second = await train({ ...common, state: restored, batches: stream(data.slice(8)) });
      assertBitIdentical(second.state, full.state);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('execution providers', () => {
  it('a CUDA request without CUDA trains on the CPU after one warning, bit-identically', async () => {
    const opt: OptimizerConfig = { name: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
    const state = () => initModelState(DEF, opt, 4);
    const warnings: string[] = [];
    const cuda = await train({
      optimizer: opt, state: state(), batches: stream(teacherBatches(3, 6)), executionProvider: 'cuda', onWarning: (m) => warnings.push(m),
    });
    const cpu = await train({ optimizer: opt, state: state(), batches: stream(teacherBatches(3, 6)) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /CUDA.*running on CPU/);
    assert.equal(cuda.executionProvider, 'cpu');
    assert.equal(cpu.executionProvider, 'cpu');
    assertBitIdentical(cuda.state, cpu.state);

    const evalWarnings: string[] = [];
    const onnx = exportInferenceModel(DEF, cuda.state);
    const ev = await evaluateModel(onnx, stream(teacherBatches(4, 2)), { executionProvider: 'cuda', onWarning: (m) => evalWarnings.push(m) });
    assert.equal(ev.count, 32);
    assert.equal(evalWarnings.length, 1);
  });

  it('warns once per host, however many sessions it creates', async () => {
    const warnings: string[] = [];
    const host = new SessionHost({ executionProvider: 'cuda', onWarning: (m) => warnings.push(m) });
    try {
      const sessions = [await host.createSession(buildInference(DEF)), await host.createSession(buildInference(DEF))];
      assert.deepEqual(sessions.map((s) => s.executionProvider), ['cpu', 'cpu']);
      assert.equal(warnings.length, 1);
    } finally {
      await host.close();
    }
  });
});

describe('schedule start', () => {
  it('starts the schedule at scheduleStartStep while the optimizer step carries over', async () => {
    const def = mlpModel({ inputSize: 4, hidden: [3], numClasses: 2 });
    const opt = { name: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 } as const;
    const schedule = { kind: 'step', every: 2, gamma: 0.5 } as const;
    const batches = async function* (): AsyncGenerator<Batch> {
      for (let i = 0; i < 4; i++) {
        yield { x: new Float32Array(8).map((_, k) => ((k * 7 + i) % 5) / 5), y: new Int32Array([0, 1]), w: new Float32Array([1, 1]), size: 2, features: 4 };
      }
    };
    const carried = () => ({ ...initModelState(def, opt, 1), step: 100 });
    const scheduled = await trainModel({ model: def, optimizer: opt, state: carried(), batches: batches(), checkpointEvery: 0, schedule, scheduleStartStep: 100 });
    const expected = await trainModel({
      model: def, optimizer: opt, state: carried(), batches: batches(), checkpointEvery: 0,
      learningRate: (step) => learningRateAt(opt.lr, schedule, step - 100),
    });
    assert.equal(scheduled.state.step, 104);
    assert.deepEqual(scheduled.state.params, expected.state.params);
  });
});
