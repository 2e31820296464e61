/**
 * 2-D convolution over [B, Ci, H, W] with a square k×k kernel, group 1, PyTorch weight layout [Co, Ci, k, k].
 * Backward, checked against naive loops in test/unit/layers-gradients.test.ts; the formulations were picked by
 * timing alternatives on the 1-thread CPU EP (B=64, 3×3 convs from 1→8 to 64→64 channels):
 * - dW: conv2d-weight-gradient.ts.
 * - dX, stride 1 and Ci ≥ Co: a Conv of dY with the weight transposed to [Ci, Co, k, k] and flipped, padding
 *   k−1−p (~30% faster than ConvTranspose); otherwise ConvTranspose with the weight as is (its [C_in_of_convT,
 *   C_out, k, k] layout is Conv's [Co, Ci, k, k]), output_padding restoring the rows/cols a strided conv dropped,
 *   which wins when Ci is small: its GEMM is Ci·k² rows tall where the flipped Conv's is Ci. With several intra-op
 *   threads, the same arithmetic (bit for bit) as two ops: every image's columns Wᵀ·dY ([Ci·k², Co]·[Co, Ho·Wo], one
 *   batched MatMul, which splits over threads by image) and Col2Im's overlap-add of them into the image, where
 *   ConvTranspose's per-image GEMMs slowed with a second thread. dX of ResNet's stride-2 convs at batch 256, one / two
 *   threads, ms: 16←32 on 32×32 12.7 / 10.4 against ConvTranspose's 12.2 / 15.7, 32←64 on 16×16 9.4 / 6.6 against
 *   9.1 / 11.8; in the whole step with one thread the columns cost 7 ms more (their 38 MB go through memory).
 * With the tape's `nchwcBlock`, the forward Conv and the flipped Conv run as NCHWc kernels where their shapes allow
 * (nchwc-conv.ts).
 */
import type { Tape } from '../autodiff/tape.js';
import type { GraphBuilder } from '../graph.js';
import { axes, reduceSum, reshape } from '../ops.js';
import { weightGradient, type ConvGeometry } from './conv2d-weight-gradient.js';
import { nchwcApplies, nchwcConv, type NchwcConvShape } from './nchwc-conv.js';
import { expectRank, withBatchOf } from './shapes.js';

export interface Conv2dOptions {
  outChannels: number;
  kernel: number;
  stride?: number;
  padding?: number;
  /** Default true; off when a normalization follows, which would cancel it. */
  bias?: boolean;
}

/** Conv(x, weight[, bias]), Ci → Co channels, as NCHWc kernels when a block size is given and the shape allows. */
function convOp(g: GraphBuilder, x: string, weight: string, bias: string | undefined, shape: Omit<NchwcConvShape, 'block'> & { block?: number }): string {
  const { k, s, p, block } = shape;
  if (block !== undefined && nchwcApplies({ ...shape, block })) return nchwcConv(g, x, weight, bias, { ...shape, block });
  return g.op('Conv', bias ? [x, weight, bias] : [x, weight], { kernel_shape: [k, k], pads: [p, p, p, p], strides: [s, s] });
}

export function conv2d(t: Tape, name: string, x: string, opts: Conv2dOptions): string {
  const { g } = t;
  const { outChannels: co, kernel: k, stride: s = 1, padding: p = 0 } = opts;
  const [ci, h, w] = expectRank(t, x, 4, `conv2d ${name}`) as [number, number, number];
  const geo: ConvGeometry = { ci, co, h, w, ho: Math.floor((h + 2 * p - k) / s) + 1, wo: Math.floor((w + 2 * p - k) / s) + 1, k, s, p, block: t.nchwcBlock };
  if (geo.ho < 1 || geo.wo < 1) throw new Error(`conv2d ${name}: kernel ${k} does not fit a ${h}×${w} input with padding ${p}`);
  const fanIn = ci * k * k;
  const weight = t.param({ name: `${name}.weight`, shape: [co, ci, k, k], fanIn, init: 'kaiming-uniform' });
  const bias = opts.bias === false ? undefined : t.param({ name: `${name}.bias`, shape: [co], fanIn, init: 'zeros' });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const y = convOp(g, x, weight, bias, geo);
  t.record(inputs, [y], ([dy], [dx, dw, db]) => [
    dx ? inputGradient(g, geo, weight, dy!, t.intraOpThreads) : undefined,
    dw ? weightGradient(g, geo, x, dy!) : undefined,
    db ? reduceSum(g, dy!, [0, 2, 3], false) : undefined,
  ]);
  return withBatchOf(t, y, x, [co, geo.ho, geo.wo]);
}

function inputGradient(g: GraphBuilder, { ci, co, h, w, k, s, p, block }: ConvGeometry, weight: string, dy: string, threads: number): string {
  if (s === 1 && ci >= co && p <= k - 1) {
    const transposed = g.op('Transpose', [weight], { perm: [1, 0, 2, 3] });
    const flipped = g.op('Slice', [transposed, axes(g, [-1, -1]), axes(g, [-(k + 1), -(k + 1)]), axes(g, [2, 3]), axes(g, [-1, -1])]);
    return convOp(g, dy, flipped, undefined, { ci: co, co: ci, k, s: 1, p: k - 1 - p, block });
  }
  if (threads === 1) {
    const spare = [(h + 2 * p - k) % s, (w + 2 * p - k) % s];
    return g.op('ConvTranspose', [dy, weight], { kernel_shape: [k, k], pads: [p, p, p, p], strides: [s, s], output_padding: spare });
  }
  const weightT = g.op('Transpose', [reshape(g, weight, [co, ci * k * k])], { perm: [1, 0] });
  const columns = g.op('MatMul', [weightT, reshape(g, dy, [0, co, -1])]); // [B, Ci·k², Ho·Wo]
  return g.op('Col2Im', [columns, g.const('int64', [2], [h, w]), g.const('int64', [2], [k, k])], { strides: [s, s], pads: [p, p, p, p] });
}
