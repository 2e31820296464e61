/**
 * 2-D convolution over [B, Ci, H, W] with a square k×k kernel, group 1, PyTorch weight layout [Co, Ci, k, k].
 * Backward, checked against naive loops in test/unit/layers-gradients.test.ts; the formulations were picked by
 * timing alternatives on the 1-thread CPU EP (B=64, 3×3 convs from 1→8 to 64→64 channels):
 * - dW, one GEMM per kernel offset (u, v) on channel-major tensors: dY as [Co, B·Ho·Wo] times the input window at
 *   that offset, Xᵤᵥ as [Ci, B·Ho·Wo] (a strided Slice of the padded, channel-major input), transposed, is
 *   dW[:, :, u, v]. With the batch in the GEMM's inner dimension this took ~30% less time, transposes included
 *   (ResNet, B=256), than one batched MatMul per offset, [B, Ci, Ho·Wo] × [B, Ho·Wo, Co] summed over the batch,
 *   which is 256 GEMMs of 16×16 outputs there; that in turn was 1.2–6× faster than the "batch as channel" Conv
 *   (Xᵀ convolved with dYᵀ as weights), whose GEMMs are only k² columns wide. Windows taken as contiguous runs of
 *   the flattened padded input (stride 1) copied no faster and made the GEMMs longer. Each product runs as two halves
 *   of the inner dimension (weightGradient), so that two intra-op threads share it. With fewer than 16 input channels
 *   (an image's first conv) the k² windows go side by side into one GEMM, [Co, k²·Ci], as im2col would. With stride
 *   1 and more input channels, no windows: the row offset shifts x and the column offset shifts dY (weightGradient).
 * - dX, stride 1 and Ci ≥ Co: a Conv of dY with the weight transposed to [Ci, Co, k, k] and flipped, padding
 *   k−1−p (~30% faster); otherwise ConvTranspose with the weight as is (its [C_in_of_convT, C_out, k, k] layout is
 *   Conv's [Co, Ci, k, k]), output_padding restoring the rows/cols a strided conv dropped. ConvTranspose wins
 *   when Ci is small: its GEMM is Ci·k² rows tall where the flipped Conv's is Ci.
 * With the tape's `nchwcBlock`, the forward Conv and the flipped Conv run as NCHWc kernels where their shapes allow
 * (nchwc-conv.ts).
 */
import type { Tape } from '../autodiff/tape.js';
import type { GraphBuilder } from '../graph.js';
import { axes, reduceSum, reshape } from '../ops.js';
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

interface Geometry { ci: number; co: number; h: number; w: number; ho: number; wo: number; k: number; s: number; p: number; block?: number }

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
  const geo: Geometry = { ci, co, h, w, ho: Math.floor((h + 2 * p - k) / s) + 1, wo: Math.floor((w + 2 * p - k) / s) + 1, k, s, p, block: t.nchwcBlock };
  if (geo.ho < 1 || geo.wo < 1) throw new Error(`conv2d ${name}: kernel ${k} does not fit a ${h}×${w} input with padding ${p}`);
  const fanIn = ci * k * k;
  const weight = t.param({ name: `${name}.weight`, shape: [co, ci, k, k], fanIn, init: 'kaiming-uniform' });
  const bias = opts.bias === false ? undefined : t.param({ name: `${name}.bias`, shape: [co], fanIn, init: 'zeros' });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const y = convOp(g, x, weight, bias, geo);
  t.record(inputs, [y], ([dy], [dx, dw, db]) => [
    dx ? inputGradient(g, geo, weight, dy!) : undefined,
    dw ? weightGradient(g, geo, x, dy!) : undefined,
    db ? reduceSum(g, dy!, [0, 2, 3], false) : undefined,
  ]);
  return withBatchOf(t, y, x, [co, geo.ho, geo.wo]);
}

function inputGradient(g: GraphBuilder, { ci, co, h, w, k, s, p, block }: Geometry, weight: string, dy: string): string {
  if (s === 1 && ci >= co && p <= k - 1) {
    const transposed = g.op('Transpose', [weight], { perm: [1, 0, 2, 3] });
    const flipped = g.op('Slice', [transposed, axes(g, [-1, -1]), axes(g, [-(k + 1), -(k + 1)]), axes(g, [2, 3]), axes(g, [-1, -1])]);
    return convOp(g, dy, flipped, undefined, { ci: co, co: ci, k, s: 1, p: k - 1 - p, block });
  }
  const spare = [(h + 2 * p - k) % s, (w + 2 * p - k) % s];
  return g.op('ConvTranspose', [dy, weight], { kernel_shape: [k, k], pads: [p, p, p, p], strides: [s, s], output_padding: spare });
}

/** Below this many input channels, the weight gradient takes all k² windows in one product (weightGradient). */
const FEW_INPUT_CHANNELS = 16;

function weightGradient(g: GraphBuilder, { ci, co, w, ho, wo, k, s, p }: Geometry, x: string, dy: string): string {
  // Channel first, so the batch joins each product's inner dimension: one [Co, B·Ho·Wo]·[B·Ho·Wo, Ci] GEMM per offset.
  // The batch goes innermost ([C, H, W, B]) where the windows' rows are strided or short: channel-major ([C, B, H, W])
  // windows copy rows of Wo values read s apart, and those Slices ran 1.5–4× slower than copying runs of Wo·B (or, with
  // a stride, B) values; that transpose costs about twice the channel-major one, which wins for long unstrided rows.
  const batchInner = s > 1 || wo <= 16;
  const channelFirst = (v: string) => g.op('Transpose', [v], { perm: batchInner ? [1, 2, 3, 0] : [1, 0, 2, 3] });
  const [rows, cols] = batchInner ? [1, 2] : [2, 3];
  const xc = channelFirst(x);
  const dyc = channelFirst(dy);
  // With stride 1 the offset (u, v) pairs dY[h, w] with x[h + u − p, w + v − p]; the row offset can go to x and the
  // column offset to dY: Xᵤ[h, w] = x[h + u − p, w] and Dᵥ[h, w] = dY[h, w − v + p] (zero outside), so that
  // dW[:, :, u, v] = Σ Dᵥ·Xᵤ over [B, Ho, W]: 2k shifted copies at most (one Pad each; with 2p = k − 1, Xₚ is x and Dₚ
  // is dY) instead of a padded x and k² window Slices. ResNet's 16→16 conv at batch 256: 35 ms against 41.
  const shifted = s === 1 && (ci >= FEW_INPUT_CHANNELS || k === 1);
  // Each product's inner dimension in two halves, as a batch of two (FusedMatMul reads them in place): MLAS splits a
  // GEMM's threads over its output, and a [Co, Ci] output of 16×16 to 64×64 gave the second thread nothing to do.
  // Halves need an even inner dimension, which an even plane guarantees whatever the batch size.
  const halves = (ho * (shifted ? w : wo)) % 2 === 0;
  const operand = (v: string, channels: number) => reshape(g, v, halves ? [channels, 2, -1] : [channels, -1]);
  // A product is [2, Co, Ci'] in halves, [Co, Ci'] whole; products side by side are summed over the halves once.
  const product = (dyOperand: string, xOperand: string) => halves
    ? g.domainOp('com.microsoft', 'FusedMatMul', [dyOperand, xOperand], { transB: 1, transBatchA: 1, transBatchB: 1 })
    : g.op('Gemm', [dyOperand, xOperand], { transB: 1 });
  const sideBySide = (products: string[]) => {
    const joined = products.length > 1 ? g.op('Concat', products, { axis: halves ? 2 : 1 }) : products[0]!;
    return halves ? reduceSum(g, joined, [0], false) : joined;
  };
  // Zeros added along each listed axis, `begin` before and `end` after (negative counts cut): [axis, begin, end].
  const pad = (v: string, edges: [number, number, number][]) => {
    if (edges.every(([, begin, end]) => begin === 0 && end === 0)) return v;
    const pads = [0, 0, 0, 0, 0, 0, 0, 0];
    for (const [axis, begin, end] of edges) [pads[axis], pads[axis + 4]] = [begin, end];
    return g.op('Pad', [v, g.const('int64', [8], pads)]);
  };
  const offsets = Array.from({ length: k }, (_, i) => i);
  let all: string; // [Co, k²·Ci] ordered (u, v, c)
  if (shifted) {
    const xRows = offsets.map((u) => operand(pad(xc, [[rows, p - u, p - k + 1 + u]]), ci));
    const dyCols = offsets.map((v) => operand(pad(dyc, [[cols, v - p, k - 1 - p - v]]), co));
    all = sideBySide(offsets.flatMap((u) => offsets.map((v) => product(dyCols[v]!, xRows[u]!))));
  } else {
    const padded = pad(xc, [[rows, p, p], [cols, p, p]]);
    const windows = offsets.flatMap((u) => offsets.map((v) => g.op('Slice', [
      padded, axes(g, [u, v]), axes(g, [u + s * (ho - 1) + 1, v + s * (wo - 1) + 1]), axes(g, [rows, cols]), axes(g, [s, s]),
    ])));
    const dyOperand = operand(dyc, co);
    all = ci < FEW_INPUT_CHANNELS && windows.length > 1
      // One product over the windows side by side, as im2col would: per offset, a [Co, Ci] output of a few columns
      // leaves MLAS's vector lanes idle (the cnn's 3→32 conv at batch 64: nine GEMMs 8.7 ms, one 1.7 ms).
      ? sideBySide([product(dyOperand, operand(g.op('Concat', windows, { axis: 0 }), k * k * ci))])
      : sideBySide(windows.map((window) => product(dyOperand, operand(window, ci))));
  }
  return k === 1 ? reshape(g, all, [co, ci, 1, 1]) : reshape(g, g.op('Transpose', [reshape(g, all, [co, k * k, ci])], { perm: [0, 2, 1] }), [co, ci, k, k]);
}
