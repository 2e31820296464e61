/**
 * Gradient checks of the autodiff tape on real ORT sessions. A probe's graph gets loss = Σ r·out for a fixed
 * random r (so dOut = r); the tape's gradients of that loss are compared with central finite differences.
 */
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { Tape } from '../../lib/onnx/autodiff/tape.js';
import { GraphBuilder } from '../../lib/onnx/graph.js';
import { scalar } from '../../lib/onnx/ops.js';
import { paramSize } from '../../lib/onnx/params.js';
import { createRng, type Rng } from '../../lib/rng.js';

export type Tensors = Record<string, Float32Array>;
export const SESSION_OPTS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };

export const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
export const uniform = (rng: Rng, n: number, lo = -1, hi = 1): Float32Array => Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
export const maxAbs = (v: ArrayLike<number>): number => Array.from(v).reduce((a, x) => Math.max(a, Math.abs(x)), 0);

export interface Probe {
  /** Differentiable float inputs with fixed shapes (batch included). */
  inputs?: Record<string, number[]>;
  /** int64 inputs such as ids: fixed values, and no gradient (they are not differentiable). */
  ints?: Record<string, { shape: number[]; values: number[] }>;
  forward: (t: Tape, xs: Record<string, string>) => string;
  /** Values for some float inputs, parameters or buffers; the rest are U(-1, 1), normalization scales U(0.5, 1.5). */
  data?: (rng: Rng) => Tensors;
  training?: boolean;
  /** The tape's NCHWc block size: convs as NCHWc kernels. */
  nchwcBlock?: number;
  /** The tape's intra-op threads (its formulations for several; the session still runs on one). */
  intraOpThreads?: number;
}

/** A built probe: outputs `out`; in training also `loss` = Σ r·out, `<name>__grad` for params and float inputs, `<buffer>__new`. */
export class Harness {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** Float feeds, `r` included; int64 inputs are fixed and live in `ints`. */
    readonly feeds: Tensors,
    private readonly ints: Record<string, ort.Tensor>,
    private readonly shapes: Record<string, number[]>,
    /** Parameters, then float inputs. */
    readonly differentiable: string[],
  ) {}

  static async create(p: Probe): Promise<Harness> {
    const inputs = p.inputs ?? {};
    const ints = p.ints ?? {};
    const g = new GraphBuilder('probe');
    const t = new Tape(g, { training: p.training ?? true, params: { kind: 'inputs' }, nchwcBlock: p.nchwcBlock, intraOpThreads: p.intraOpThreads });
    const xs: Record<string, string> = {};
    for (const [n, s] of Object.entries(inputs)) xs[n] = t.setShape(g.input(n, 'float32', s), s);
    for (const [n, { shape }] of Object.entries(ints)) xs[n] = t.setShape(g.input(n, 'int64', shape), shape);
    const out = p.forward(t, xs);
    const shapes: Record<string, number[]> = { ...inputs, r: t.shape(out) as number[] };
    for (const s of [...t.params, ...t.buffers]) shapes[s.name] = s.shape;
    const differentiable = [...t.params.map((s) => s.name), ...Object.keys(inputs)];
    g.output('out', out, 'float32');
    if (t.training) {
      const r = g.input('r', 'float32', shapes.r!);
      const loss = g.op('ReduceSum', [g.op('Mul', [out, r])], { keepdims: 0 });
      t.record([out], [loss], ([d]) => [g.op('Mul', [r, d!])]);
      const grads = t.gradients({ [loss]: scalar(g, 1) }, differentiable);
      g.output('loss', loss, 'float32');
      for (const n of differentiable) g.output(`${n}__grad`, grads.get(n)!, 'float32');
      for (const b of t.buffers) g.output(`${b.name}__new`, t.bufferUpdate(b.name)!, 'float32');
    }
    const rng = createRng(1);
    const feeds: Tensors = { ...p.data?.(rng) };
    for (const s of [...t.params, ...t.buffers]) {
      // Scales near 1 keep normalization layers well conditioned.
      const isScale = s.init === 'ones';
      feeds[s.name] ??= uniform(rng, paramSize(s), isScale ? 0.5 : -1, isScale ? 1.5 : 1);
    }
    for (const [n, s] of Object.entries(shapes)) feeds[n] ??= uniform(rng, size(s));
    const intFeeds = Object.fromEntries(Object.entries(ints).map(([n, { shape, values }]) => [n, new ort.Tensor('int64', BigInt64Array.from(values, BigInt), shape)]));
    return new Harness(await ort.InferenceSession.create(g.toBytes(), SESSION_OPTS), feeds, intFeeds, shapes, differentiable);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  /** Feeds only what the graph declares: inference graphs have no `r`, and only dropout adds `rng_seed`. */
  async run(overrides: Tensors = {}, rngSeed = 0): Promise<Tensors> {
    const all = { ...this.feeds, ...overrides };
    const feeds: Record<string, ort.Tensor> = {};
    for (const n of this.session.inputNames) {
      feeds[n] = this.ints[n]
        ?? (n === 'rng_seed' ? new ort.Tensor('float32', [rngSeed], []) : new ort.Tensor('float32', all[n]!, this.shapes[n]!));
    }
    const out = await this.session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  }
}

/**
 * Central differences (eps 1e-2) of the probe loss for every coordinate of every parameter and float input. Errors
 * are relative to the largest gradient entry of the tensor (float32 rounding of the loss is absolute, not per entry).
 * Takes a built harness where the caller checks its feeds and outputs further.
 */
export async function checkAgainstDifferences(p: Probe | Harness, tol = 5e-4): Promise<void> {
  const eps = 1e-2;
  const h = p instanceof Harness ? p : await Harness.create(p);
  const base = await h.run();
  for (const name of h.differentiable) {
    const analytic = base[`${name}__grad`]!;
    const x = h.feeds[name]!;
    const scale = Math.max(maxAbs(analytic), 1e-3);
    for (let i = 0; i < x.length; i++) {
      const plus = x.slice();
      const minus = x.slice();
      plus[i]! += eps;
      minus[i]! -= eps;
      // Divide by the float32 step actually taken, not 2·eps.
      const numeric = ((await h.run({ [name]: plus })).loss![0]! - (await h.run({ [name]: minus })).loss![0]!) / (plus[i]! - minus[i]!);
      const err = Math.abs(analytic[i]! - numeric) / scale;
      // `<` also fails on NaN.
      assert.ok(err < tol, `${name}[${i}]: analytic ${analytic[i]} vs numeric ${numeric}, error ${err.toExponential(2)} relative to its largest entry ${scale.toExponential(2)}`);
    }
  }
}
