/**
 * Checks every layer's recorded backward on real ORT sessions. Each probe builds a graph on a training tape with
 * loss = Σ r·out for a fixed random r (so dOut = r), asks the tape for parameter and input gradients, and compares
 * them with central finite differences of that loss. Conv and max pooling are checked against naive JS loops
 * instead: exact, and max pooling's ties make differences meaningless. Losses go through buildTrainStep.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { Tape } from '../../lib/onnx/autodiff/tape.js';
import { GraphBuilder } from '../../lib/onnx/graph.js';
import { gelu, relu, sigmoid, tanh } from '../../lib/onnx/layers/activations.js';
import { add } from '../../lib/onnx/layers/add.js';
import { batchNorm } from '../../lib/onnx/layers/batchnorm.js';
import { concat } from '../../lib/onnx/layers/concat.js';
import { conv2d, type Conv2dOptions } from '../../lib/onnx/layers/conv2d.js';
import { nchwcBlock } from '../../lib/onnx/nchwc-block.js';
import { dropout, fnv1a } from '../../lib/onnx/layers/dropout.js';
import { layerNorm } from '../../lib/onnx/layers/layernorm.js';
import { linear } from '../../lib/onnx/layers/linear.js';
import { avgPool2d, globalAvgPool, maxPool2d, type Pool2dOptions } from '../../lib/onnx/layers/pooling.js';
import { flatten, reshape } from '../../lib/onnx/layers/reshape.js';
import type { LossKind } from '../../lib/onnx/losses.js';
import { buildTrainStep, modelParameters } from '../../lib/onnx/models/build.js';
import type { ModelDefinition } from '../../lib/onnx/models/model.js';
import { optimizerStateNames, type OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { scalar } from '../../lib/onnx/ops.js';
import { paramSize } from '../../lib/onnx/params.js';
import { createRng, type Rng } from '../../lib/rng.js';
import { checkAgainstDifferences, Harness, maxAbs, type Probe, SESSION_OPTS, size, uniform } from '../helpers/gradcheck.js';

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(maxAbs(expected), 1);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol * scale, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

/** Values bounded away from 0, so ±eps never crosses a ReLU kink. */
const awayFromZero = (rng: Rng, n: number): Float32Array => Float32Array.from({ length: n }, () => (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.1, 1));

describe('linear and activations', () => {
  it('linear: weight, bias and input gradients', () => checkAgainstDifferences({
    inputs: { x: [3, 4] }, forward: (t, { x }) => linear(t, 'fc', x!, 5),
  }));
  it('linear without bias', () => checkAgainstDifferences({
    inputs: { x: [3, 4] }, forward: (t, { x }) => linear(t, 'fc', x!, 2, { bias: false }),
  }));
  for (const [name, fn] of [['relu', relu], ['gelu', gelu], ['sigmoid', sigmoid], ['tanh', tanh]] as const) {
    it(name, () => checkAgainstDifferences({
      inputs: { x: [3, 5] }, forward: (t, { x }) => fn(t, x!), data: (rng) => ({ x: Float32Array.from(awayFromZero(rng, 15), (v) => 2 * v) }),
    }));
  }
});

describe('composition', () => {
  it('residual: a value used twice gets the sum of both gradients', () => checkAgainstDifferences({
    inputs: { x: [3, 4] },
    forward: (t, { x }) => {
      const h = linear(t, 'a', x!, 4);
      return add(t, tanh(t, linear(t, 'b', h, 4)), h);
    },
  }));
  it('concat along features, with one input also feeding a layer', () => checkAgainstDifferences({
    inputs: { x: [2, 3], z: [2, 2] },
    forward: (t, { x, z }) => sigmoid(t, concat(t, [linear(t, 'fc', x!, 4), x!, z!], 1)),
  }));
  it('concat along channels, reshape, flatten and global average pooling', () => checkAgainstDifferences({
    inputs: { x: [2, 12], z: [2, 1, 2, 2] },
    forward: (t, { x, z }) => {
      const img = concat(t, [reshape(t, x!, [3, 2, 2]), z!], 1);
      return linear(t, 'fc', flatten(t, globalAvgPool(t, tanh(t, img))), 2);
    },
  }));
  it('ResNet-style block without ReLU: convs (stride 1 and 2, 1×1 skip) through batch-normalized statistics', () => checkAgainstDifferences({
    inputs: { x: [2, 2, 5, 5] },
    forward: (t, { x }) => {
      const stem = batchNorm(t, 'bn0', conv2d(t, 'conv0', x!, { outChannels: 3, kernel: 3, padding: 1, bias: false }));
      const main = batchNorm(t, 'bn1', conv2d(t, 'conv1', stem, { outChannels: 3, kernel: 3, stride: 2, padding: 1, bias: false }));
      const skip = batchNorm(t, 'bn2', conv2d(t, 'skip', stem, { outChannels: 3, kernel: 1, stride: 2, bias: false }));
      return add(t, main, skip);
    },
  }));
  it('the tape skips gradients nobody asked for and rejects an inference tape', () => {
    const g = new GraphBuilder('t');
    const t = new Tape(g, { training: true, params: { kind: 'inputs' } });
    const x = t.setShape(g.input('x', 'float32', ['B', 3]), ['B', 3]);
    const y = linear(t, 'fc', x, 2);
    const loss = g.op('ReduceSum', [y], { keepdims: 0 });
    t.record([y], [loss], ([d]) => [g.op('Expand', [d!, g.op('Shape', [y])])]);
    const grads = t.gradients({ [loss]: scalar(g, 1) }, ['fc.weight']);
    assert.deepEqual([...grads.keys()], ['fc.weight']);
    const inference = new Tape(new GraphBuilder('i'), { training: false, params: { kind: 'inputs' } });
    assert.throws(() => inference.gradients({}, []), /inference tape/);
  });
});

// ---- Conv2d and pooling against naive loops (NCHW) ----

interface ConvCase { b: number; ci: number; h: number; w: number; opts: Conv2dOptions }

function convReference(c: ConvCase, x: Float32Array, wt: Float32Array, bias: Float32Array | undefined, dy: Float32Array) {
  const { b, ci, h, w, opts: { outChannels: co, kernel: k, stride: s = 1, padding: p = 0 } } = c;
  const ho = Math.floor((h + 2 * p - k) / s) + 1;
  const wo = Math.floor((w + 2 * p - k) / s) + 1;
  const y = new Float64Array(b * co * ho * wo);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(wt.length);
  const db = new Float64Array(co);
  for (let n = 0; n < b; n++) for (let o = 0; o < co; o++) for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) {
    const yi = ((n * co + o) * ho + i) * wo + j;
    let acc = bias ? bias[o]! : 0;
    const g = dy[yi]!;
    db[o]! += g;
    for (let cc = 0; cc < ci; cc++) for (let u = 0; u < k; u++) for (let v = 0; v < k; v++) {
      const r = i * s + u - p;
      const q = j * s + v - p;
      if (r < 0 || r >= h || q < 0 || q >= w) continue;
      const xi = ((n * ci + cc) * h + r) * w + q;
      const wi = ((o * ci + cc) * k + u) * k + v;
      acc += x[xi]! * wt[wi]!;
      dx[xi]! += g * wt[wi]!;
      dw[wi]! += g * x[xi]!;
    }
    y[yi] = acc;
  }
  return { y, dx, dw, db };
}

/** Forward max and the backward that routes dy to the first maximum of each window in row-major order. */
function maxPoolReference(shape: number[], { kernel: k, stride: s = k }: Pool2dOptions, x: Float32Array, dy: Float32Array) {
  const [b, c, h, w] = shape as [number, number, number, number];
  const ho = Math.floor((h - k) / s) + 1;
  const wo = Math.floor((w - k) / s) + 1;
  const y = new Float32Array(b * c * ho * wo);
  const dx = new Float64Array(x.length);
  for (let plane = 0; plane < b * c; plane++) for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) {
    let best = -1;
    for (let u = 0; u < k; u++) for (let v = 0; v < k; v++) {
      const xi = (plane * h + i * s + u) * w + j * s + v;
      if (best < 0 || x[xi]! > x[best]!) best = xi;
    }
    const yi = (plane * ho + i) * wo + j;
    y[yi] = x[best]!;
    dx[best]! += dy[yi]!;
  }
  return { y, dx };
}

describe('conv2d against naive loops', async () => {
  // Both dX formulations: flipped Conv (stride 1, Ci ≥ Co) and ConvTranspose (the rest).
  const cases: ConvCase[] = [
    { b: 2, ci: 2, h: 6, w: 6, opts: { outChannels: 3, kernel: 3, padding: 1 } },
    { b: 2, ci: 3, h: 6, w: 5, opts: { outChannels: 3, kernel: 3, padding: 1 } },
    { b: 2, ci: 4, h: 7, w: 6, opts: { outChannels: 2, kernel: 3 } },
    { b: 1, ci: 2, h: 6, w: 7, opts: { outChannels: 1, kernel: 5, padding: 1 } },
    { b: 2, ci: 3, h: 9, w: 7, opts: { outChannels: 2, kernel: 3, stride: 2, padding: 1 } },
    { b: 3, ci: 2, h: 8, w: 8, opts: { outChannels: 4, kernel: 3, stride: 2 } },
    { b: 2, ci: 3, h: 6, w: 5, opts: { outChannels: 2, kernel: 1, stride: 2, bias: false } },
    { b: 1, ci: 1, h: 5, w: 5, opts: { outChannels: 2, kernel: 5, padding: 2 } },
    // Rows longer than 16, unstrided: dW's windows channel-major rather than batch innermost; an even plane, an odd one.
    { b: 2, ci: 2, h: 4, w: 18, opts: { outChannels: 3, kernel: 3, padding: 1 } },
    { b: 1, ci: 3, h: 3, w: 19, opts: { outChannels: 2, kernel: 3, padding: 1 } },
    // Stride 1 with 16 input channels or a 1×1 kernel: dW from shifted copies of x and dY, here with more padding
    // than the kernel's half (zero rows and columns added on both sides, none cut) and with none.
    { b: 2, ci: 16, h: 4, w: 5, opts: { outChannels: 3, kernel: 3, padding: 2 } },
    { b: 2, ci: 3, h: 5, w: 4, opts: { outChannels: 2, kernel: 1 } },
    // Stride 1 on planes of 256 positions or more: dW per image, x's row offsets stacked and dY shifted by columns
    // (k·Ci ≥ Co), or the stack shifted (k·Ci < Co); padding as wide as the kernel's half, wider, and none.
    { b: 2, ci: 2, h: 16, w: 16, opts: { outChannels: 3, kernel: 3, padding: 1 } },
    { b: 1, ci: 2, h: 17, w: 16, opts: { outChannels: 3, kernel: 5, padding: 3 } },
    { b: 2, ci: 2, h: 19, w: 18, opts: { outChannels: 2, kernel: 3 } },
    { b: 2, ci: 1, h: 16, w: 18, opts: { outChannels: 4, kernel: 3, padding: 1 } },
    { b: 2, ci: 1, h: 16, w: 17, opts: { outChannels: 8, kernel: 3, padding: 2 } },
    { b: 1, ci: 1, h: 19, w: 18, opts: { outChannels: 4, kernel: 3 } },
    { b: 2, ci: 3, h: 16, w: 16, opts: { outChannels: 2, kernel: 1 } },
    { b: 1, ci: 2, h: 16, w: 16, opts: { outChannels: 3, kernel: 1, padding: 1 } },
  ];
  // Shapes the NCHWc kernels take (channels in whole blocks of 8 or 16, or an input of fewer), each dX formulation.
  const blockedCases: ConvCase[] = [
    { b: 2, ci: 16, h: 6, w: 5, opts: { outChannels: 16, kernel: 3, padding: 1, bias: false } },
    { b: 2, ci: 32, h: 5, w: 6, opts: { outChannels: 16, kernel: 3, padding: 1 } },
    { b: 2, ci: 3, h: 6, w: 6, opts: { outChannels: 16, kernel: 3, padding: 1 } },
    { b: 2, ci: 16, h: 7, w: 6, opts: { outChannels: 32, kernel: 3, stride: 2, padding: 1, bias: false } },
    { b: 1, ci: 16, h: 7, w: 7, opts: { outChannels: 16, kernel: 5 } },
    { b: 1, ci: 16, h: 16, w: 16, opts: { outChannels: 16, kernel: 3, padding: 1, bias: false } },
  ];
  const block = await nchwcBlock();
  const check = (c: ConvCase, kernels?: number, intraOpThreads?: number) => async () => {
    const { bias = true } = c.opts;
    const probe = { inputs: { x: [c.b, c.ci, c.h, c.w] }, forward: (t: Tape, { x }: Record<string, string>) => conv2d(t, 'conv', x!, c.opts), nchwcBlock: kernels, intraOpThreads };
    const h = await Harness.create(probe);
    const out = await h.run();
    const ref = convReference(c, h.feeds.x!, h.feeds['conv.weight']!, bias ? h.feeds['conv.bias'] : undefined, h.feeds.r!);
    assertClose(out.out!, ref.y, 1e-5, 'y');
    assertClose(out['x__grad']!, ref.dx, 1e-5, 'dx');
    assertClose(out['conv.weight__grad']!, ref.dw, 1e-5, 'dw');
    if (bias) assertClose(out['conv.bias__grad']!, ref.db, 1e-5, 'db');
    else assert.ok(!h.differentiable.includes('conv.bias'));
  };
  const name = ({ ci, h, w, opts: { outChannels, kernel: k, stride = 1, padding = 0, bias = true } }: ConvCase) =>
    `${ci}→${outChannels} k${k} s${stride} p${padding} on ${h}×${w}${bias ? '' : ', no bias'}`;
  for (const c of [...cases, ...blockedCases]) it(name(c), check(c));
  // Where one thread's dX is a ConvTranspose, several threads' is the same arithmetic as a MatMul and Col2Im.
  const backwardOps = (c: ConvCase, intraOpThreads: number) => {
    const g = new GraphBuilder('ops');
    const t = new Tape(g, { training: true, params: { kind: 'inputs' }, intraOpThreads });
    const shape = [c.b, c.ci, c.h, c.w];
    const x = t.setShape(g.input('x', 'float32', shape), shape);
    const y = conv2d(t, 'conv', x, c.opts);
    g.output('dx', t.gradients({ [y]: g.input('dy', 'float32', t.shape(y) as number[]) }, [x]).get(x)!, 'float32');
    return new Set(g.toGraph().node.map((n) => n.op_type));
  };
  for (const c of cases.filter((c) => backwardOps(c, 1).has('ConvTranspose'))) {
    it(`${name(c)}, dX as a MatMul and Col2Im with two threads`, async () => {
      const ops = backwardOps(c, 2);
      assert.ok(ops.has('Col2Im') && !ops.has('ConvTranspose'), 'dX is a Col2Im of columns');
      await check(c, undefined, 2)();
    });
  }
  for (const c of blockedCases) {
    it(`${name(c)} as NCHWc kernels`, { skip: block === undefined && 'ONNX Runtime has no NCHWc kernels on this CPU' }, async () => {
      const g = new GraphBuilder('nchwc');
      const t = new Tape(g, { training: true, params: { kind: 'inputs' }, nchwcBlock: block });
      const shape = [c.b, c.ci, c.h, c.w];
      g.output('y', conv2d(t, 'conv', t.setShape(g.input('x', 'float32', shape), shape), c.opts), 'float32');
      assert.ok(g.toGraph().node.some((n) => n.domain === 'com.microsoft.nchwc' && n.op_type === 'Conv'), 'the forward conv is an NCHWc Conv');
      await check(c, block)();
    });
  }
});

describe('pooling', () => {
  const maxCases: [string, number[], Pool2dOptions][] = [
    ['2×2/2 (MaxUnpool)', [2, 3, 6, 4], { kernel: 2 }],
    ['2×2/2 on odd sizes (MaxUnpool)', [2, 2, 7, 5], { kernel: 2 }],
    ['3×3/3 (MaxUnpool)', [2, 2, 7, 6], { kernel: 3 }],
    ['overlapping 3×3/2 (ScatterElements)', [2, 2, 7, 7], { kernel: 3, stride: 2 }],
    ['overlapping 3×3/1 (ScatterElements)', [1, 2, 5, 6], { kernel: 3, stride: 1 }],
  ];
  for (const [name, shape, opts] of maxCases) {
    it(`maxPool2d ${name}: forward and backward match loops, ties to the first maximum`, async () => {
      // Small integers make ties common, as after a ReLU.
      const ties = (rng: Rng) => ({ x: Float32Array.from({ length: size(shape) }, () => rng.int(3)) });
      for (const data of [undefined, ties]) {
        const h = await Harness.create({ inputs: { x: shape }, forward: (t, { x }) => maxPool2d(t, x!, opts), data });
        const out = await h.run();
        const ref = maxPoolReference(shape, opts, h.feeds.x!, h.feeds.r!);
        assertClose(out.out!, ref.y, 0, 'y');
        assertClose(out['x__grad']!, ref.dx, 1e-6, 'dx');
        const inference = await Harness.create({ inputs: { x: shape }, forward: (t, { x }) => maxPool2d(t, x!, opts), data, training: false });
        assertClose((await inference.run({ x: h.feeds.x! })).out!, ref.y, 0, 'inference y');
      }
    });
  }
  for (const [name, shape, opts] of [
    ['2×2/2', [2, 2, 6, 6], { kernel: 2 }],
    ['overlapping 3×3/2', [2, 2, 7, 7], { kernel: 3, stride: 2 }],
    ['2×2/2 on odd sizes', [1, 3, 7, 5], { kernel: 2 }],
  ] as [string, number[], Pool2dOptions][]) {
    it(`avgPool2d ${name}`, () => checkAgainstDifferences({ inputs: { x: shape }, forward: (t, { x }) => avgPool2d(t, x!, opts) }));
  }
});

// ---- Normalization ----

/** Per-channel batch mean and biased variance of [B, C, ...] data. */
function channelStats(x: Float32Array, shape: number[]): { mean: number[]; variance: number[]; n: number } {
  const [b, c] = shape as [number, number];
  const inner = size(shape.slice(2));
  const n = b * inner;
  const at = (ch: number) => Array.from({ length: n }, (_, k) => x[(Math.floor(k / inner) * c + ch) * inner + (k % inner)]!);
  const mean = Array.from({ length: c }, (_, ch) => at(ch).reduce((a, v) => a + v, 0) / n);
  const variance = mean.map((m, ch) => at(ch).reduce((a, v) => a + (v - m) ** 2, 0) / n);
  return { mean, variance, n };
}

describe('normalization', () => {
  for (const shape of [[6, 4], [4, 3, 3, 2]]) {
    const kind = shape.length === 2 ? 'BatchNorm1d' : 'BatchNorm2d';
    it(`${kind} training: gradients through the batch statistics`, () => checkAgainstDifferences({
      inputs: { x: shape }, forward: (t, { x }) => batchNorm(t, 'bn', x!),
    }));

    it(`${kind}: running stats move by the momentum (unbiased variance); inference uses them`, async () => {
      const h = await Harness.create({ inputs: { x: shape }, forward: (t, { x }) => batchNorm(t, 'bn', x!, { momentum: 0.25 }) });
      const out = await h.run();
      const { mean, variance, n } = channelStats(h.feeds.x!, shape);
      const rm = h.feeds['bn.running_mean']!;
      const rv = h.feeds['bn.running_var']!;
      assertClose(out['bn.running_mean__new']!, mean.map((m, c) => 0.75 * rm[c]! + 0.25 * m), 1e-6, 'running mean');
      assertClose(out['bn.running_var__new']!, variance.map((v, c) => 0.75 * rv[c]! + 0.25 * v * n / (n - 1)), 1e-6, 'running var');

      const inference = await Harness.create({ inputs: { x: shape }, forward: (t, { x }) => batchNorm(t, 'bn', x!), training: false });
      const y = (await inference.run(h.feeds)).out!;
      const inner = size(shape.slice(2));
      const c = shape[1]!;
      const expected = Array.from(h.feeds.x!, (v, i) => {
        const ch = Math.floor(i / inner) % c;
        return (v - rm[ch]!) / Math.sqrt(rv[ch]! + 1e-5) * h.feeds['bn.weight']![ch]! + h.feeds['bn.bias']![ch]!;
      });
      assertClose(y, expected, 1e-5, 'inference output');
    });
  }

  it('LayerNorm over the last axis: gradients, and inference equals the training forward', async () => {
    const probe: Probe = { inputs: { x: [4, 6] }, forward: (t, { x }) => layerNorm(t, 'ln', x!) };
    await checkAgainstDifferences(probe);
    const train = await Harness.create(probe);
    const inference = await Harness.create({ ...probe, training: false });
    assertClose((await inference.run(train.feeds)).out!, (await train.run()).out!, 1e-6, 'output');
  });
});

// ---- Dropout ----

/** JS transcription of the mask hash documented in layers/dropout.ts. */
function referenceKeep(seed: number, name: string, index: number, p: number): boolean {
  const mix = (h0: number): number => {
    let h = h0 >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
    h = Math.imul(h, 0x45d9f3b) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
    h = Math.imul(h, 0x45d9f3b) >>> 0;
    return (h ^ (h >>> 16)) >>> 0;
  };
  const keyed = mix((seed ^ fnv1a(name)) >>> 0);
  return (mix((keyed + index) >>> 0) % 2 ** 24) / 2 ** 24 >= p;
}

describe('dropout', () => {
  const shape = [64, 256];
  const p = 0.3;
  const ones = () => ({ x: new Float32Array(size(shape)).fill(1) });
  const probe: Probe = { inputs: { x: shape }, forward: (t, { x }) => dropout(t, 'drop', x!, p), data: ones };

  it('masks are a function of the seed: same seed same mask, another seed another mask, ~(1−p) kept', async () => {
    const h = await Harness.create(probe);
    const a = (await h.run({}, 7)).out!;
    assert.deepEqual((await h.run({}, 7)).out, a);
    const b = (await h.run({}, 8)).out!;
    assert.notDeepEqual(b, a);
    for (const m of [a, b]) {
      assert.ok(m.every((v) => v === 0 || Math.abs(v - 1 / (1 - p)) < 1e-6), 'kept values are scaled by 1/(1-p)');
      const kept = m.filter((v) => v !== 0).length / m.length;
      assert.ok(Math.abs(kept - (1 - p)) < 0.015, `keep rate ${kept}`);
    }
    const agree = a.filter((v, i) => (v === 0) === (b[i] === 0)).length / a.length;
    assert.ok(agree < 0.65, `masks of two seeds agree on ${agree} of elements, as if correlated`);
  });

  it('the mask equals the documented hash, and layers with other names draw other masks', async () => {
    const h = await Harness.create({
      inputs: { x: [4, 50] }, data: () => ({ x: new Float32Array(200).fill(1) }),
      forward: (t, { x }) => concat(t, [dropout(t, 'drop', x!, 0.5), dropout(t, 'other', x!, 0.5)], 1),
    });
    const seed = 12345;
    const out = (await h.run({}, seed)).out!;
    for (let i = 0; i < 200; i++) {
      const [row, col] = [Math.floor(i / 50), i % 50];
      assert.equal(out[row * 100 + col] !== 0, referenceKeep(seed, 'drop', i, 0.5), `drop element ${i}`);
      assert.equal(out[row * 100 + 50 + col] !== 0, referenceKeep(seed, 'other', i, 0.5), `other element ${i}`);
    }
  });

  it('the gradient is masked and scaled like the forward', async () => {
    const h = await Harness.create({ ...probe, data: undefined });
    const out = await h.run({}, 3);
    const r = h.feeds.r!;
    const x = h.feeds.x!;
    out['x__grad']!.forEach((d, i) => {
      const factor = out.out![i]! / x[i]!;
      assert.ok(Math.abs(d - r[i]! * factor) < 1e-5, `element ${i}`);
    });
  });

  it('is the identity in inference, with no rng_seed input', async () => {
    const h = await Harness.create({ ...probe, training: false, data: undefined });
    assert.ok(!h.inputNames.includes('rng_seed'));
    assert.deepEqual((await h.run()).out, h.feeds.x);
  });
});

// ---- Losses, through buildTrainStep ----

const FEATURES = 4;

function headModel(loss: LossKind, outputSize: number): ModelDefinition {
  return {
    architecture: `probe-${loss}`,
    inputs: [{ name: 'x', dtype: 'float32', shape: ['B', FEATURES] }],
    loss,
    outputSize,
    forward: (t, { x }) => ({ output: linear(t, 'fc', x!, outputSize), embedding: x!, embeddingSize: FEATURES }),
  };
}

interface LossReference { per: number[]; loss: number; gradNorm: number[]; dW: number[]; db: number[] }

/** float64: per-sample loss, d(l_i)/d(output_i), and the weighted-mean gradients of the linear head. */
function lossReference(kind: LossKind, k: number, W: Float32Array, bias: Float32Array, x: Float32Array, y: number[], w: Float32Array): LossReference {
  const n = y.length;
  const wsum = Math.max(w.reduce((a, v) => a + v, 0), 1e-12);
  const per: number[] = [];
  const gradNorm: number[] = [];
  const dW = new Array<number>(k * FEATURES).fill(0);
  const db = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) {
    const xi = Array.from(x.subarray(i * FEATURES, (i + 1) * FEATURES));
    const o = Array.from({ length: k }, (_, c) => bias[c]! + xi.reduce((a, v, j) => a + v * W[c * FEATURES + j]!, 0));
    let g: number[];
    if (kind === 'softmax-ce') {
      const m = Math.max(...o);
      const lse = m + Math.log(o.reduce((a, v) => a + Math.exp(v - m), 0));
      per.push(lse - o[y[i]!]!);
      g = o.map((v, c) => Math.exp(v - lse) - (c === y[i] ? 1 : 0));
    } else if (kind === 'bce-logits') {
      const z = o[0]!;
      per.push(Math.max(z, 0) - z * y[i]! + Math.log1p(Math.exp(-Math.abs(z))));
      g = [1 / (1 + Math.exp(-z)) - y[i]!];
    } else {
      per.push((o[0]! - y[i]!) ** 2);
      g = [2 * (o[0]! - y[i]!)];
    }
    gradNorm.push(Math.hypot(...g));
    g.forEach((gc, c) => {
      db[c]! += (w[i]! / wsum) * gc;
      xi.forEach((v, j) => { dW[c * FEATURES + j]! += (w[i]! / wsum) * gc * v; });
    });
  }
  return { per, loss: per.reduce((a, l, i) => a + w[i]! * l, 0) / wsum, gradNorm, dW, db };
}

describe('losses through buildTrainStep', () => {
  const opt: OptimizerConfig = { name: 'sgd', lr: 0.1, momentum: 0, weightDecay: 0 };
  const n = 6;
  const cases: [LossKind, number, (rng: Rng) => number][] = [
    ['softmax-ce', 3, (rng) => rng.int(3)],
    ['bce-logits', 1, (rng) => rng.next()],
    ['mse', 1, (rng) => rng.uniform(-2, 2)],
  ];
  for (const [kind, k, label] of cases) {
    it(`${kind}: loss, per_sample_loss, per_sample_grad_norm and gradients match a float64 reference`, async () => {
      const def = headModel(kind, k);
      const { params } = modelParameters(def);
      const session = await ort.InferenceSession.create(buildTrainStep(def, opt, { emitGradients: true }), SESSION_OPTS);
      const rng = createRng(4);
      const W = uniform(rng, k * FEATURES);
      const bias = uniform(rng, k);
      // One sample's logits are large, to exercise the stable BCE and log-softmax forms.
      const x = Float32Array.from({ length: n * FEATURES }, (_, i) => (i < FEATURES ? 20 : 1) * rng.uniform(-2, 2));
      const y = Array.from({ length: n }, () => label(rng));
      const run = async (w: Float32Array) => {
        const feeds: Record<string, ort.Tensor> = {
          'fc.weight': new ort.Tensor('float32', W, [k, FEATURES]),
          'fc.bias': new ort.Tensor('float32', bias, [k]),
          x: new ort.Tensor('float32', x, [n, FEATURES]),
          y: kind === 'softmax-ce' ? new ort.Tensor('int64', BigInt64Array.from(y, BigInt), [n]) : new ort.Tensor('float32', Float32Array.from(y), [n]),
          w: new ort.Tensor('float32', w, [n]),
          lr: new ort.Tensor('float32', [0], []),
          step: new ort.Tensor('float32', [1], []),
          rng_seed: new ort.Tensor('float32', [0], []),
        };
        for (const s of params) for (const st of optimizerStateNames(s.name, opt)) feeds[st] = new ort.Tensor('float32', new Float32Array(paramSize(s)), s.shape);
        const out = await session.run(feeds);
        return (name: string) => out[name]!.data as Float32Array;
      };
      const w = Float32Array.from({ length: n }, (_, i) => [0.5, 2, 1, 0.25, 0, 1.5][i]!);
      const out = await run(w);
      const ref = lossReference(kind, k, W, bias, x, y, w);
      assertClose(out('per_sample_loss'), ref.per, 1e-5, 'per_sample_loss');
      assertClose(out('loss'), [ref.loss], 1e-5, 'loss');
      assertClose(out('per_sample_grad_norm'), ref.gradNorm, 1e-5, 'per_sample_grad_norm');
      assertClose(out('fc.weight__grad'), ref.dW, 1e-5, 'dW');
      assertClose(out('fc.bias__grad'), ref.db, 1e-5, 'db');
      assert.ok(out('per_sample_loss').every(Number.isFinite));

      const zero = await run(new Float32Array(n));
      assert.equal(zero('loss')[0], 0);
      assert.ok(zero('fc.weight__grad').every((v) => v === 0) && zero('fc.bias__grad').every((v) => v === 0));
      assertClose(zero('per_sample_grad_norm'), ref.gradNorm, 1e-5, 'unweighted grad norm');
    });
  }

  it('rejects an output of the wrong width', () => {
    assert.throws(() => buildTrainStep({ ...headModel('mse', 1), outputSize: 2 }, opt), /\[B, 2\]/);
    assert.throws(() => buildTrainStep(headModel('bce-logits', 2), opt), /outputSize 1/);
  });
});
