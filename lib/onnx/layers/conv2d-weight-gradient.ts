/**
 * dW of a 2-D convolution (conv2d.ts): dW[co, ci, u, v] = Σ dY[b, co, h, w]·x[b, ci, s·h + u − p, s·w + v − p] over
 * the batch and the output plane, as GEMMs whose inner dimension runs over positions. ONNX has no operator for it, so
 * the offsets (u, v) become copies of x or dY that line the terms up; the formulations were picked by timing
 * alternatives on the 1-thread CPU EP (bench/README.md, "The weight gradient per image"):
 * - per image (stride 1, planes of 256 positions or more): x's k row offsets stacked by one Gather, k·Ci rows a
 *   position, and for each column offset one batched product against dY shifted by a column (or, with few input
 *   channels, against the stack shifted). ResNet's 16→16 conv on 32×32 at batch 256: 27 ms against 37.
 * - channel-major (strided convs and small planes): x and dY transposed so that the batch joins the inner dimension,
 *   one [Co, B·Ho·Wo]·[B·Ho·Wo, Ci] product per offset, over window Slices of x or, with stride 1, shifted copies.
 *   With the batch in the inner dimension this took ~30% less time than one batched MatMul per offset,
 *   [B, Ci, Ho·Wo] × [B, Ho·Wo, Co] (256 GEMMs of 16×16 outputs at batch 256), which in turn was 1.2–6× faster than
 *   the "batch as channel" Conv (Xᵀ convolved with dYᵀ as weights), whose GEMMs are only k² columns wide.
 */
import type { GraphBuilder } from '../graph.js';
import { axes, reduceSum, reshape } from '../ops.js';

/** A conv's shape: channels, input and output planes, kernel, stride, padding, and the NCHWc block if any. */
export interface ConvGeometry { ci: number; co: number; h: number; w: number; ho: number; wo: number; k: number; s: number; p: number; block?: number }

/** dW, [Co, Ci, k, k], from the conv's input x [B, Ci, H, W] and its output's gradient dY [B, Co, Ho, Wo]. */
export function weightGradient(g: GraphBuilder, geo: ConvGeometry, x: string, dy: string): string {
  return geo.s === 1 && geo.ho * geo.wo >= PER_IMAGE_POSITIONS ? perImage(g, geo, x, dy) : channelMajor(g, geo, x, dy);
}

/**
 * From this many positions a plane, stride-1 convs take the per-image products: each image's GEMM runs over its plane,
 * and below that (ResNet's 64→64 on 8×8: 19.1 ms against 14.4 channel-major) the products are too short.
 */
const PER_IMAGE_POSITIONS = 256;

/** Below this many input channels, the channel-major weight gradient takes all k² windows in one product. */
const FEW_INPUT_CHANNELS = 16;

/** Zeros added along each listed axis of a rank-`rank` tensor, `begin` before and `end` after (negative counts cut). */
function pad(g: GraphBuilder, v: string, rank: number, edges: [axis: number, begin: number, end: number][]): string {
  if (edges.every(([, begin, end]) => begin === 0 && end === 0)) return v;
  const pads = new Array<number>(2 * rank).fill(0);
  for (const [axis, begin, end] of edges) [pads[axis], pads[axis + rank]] = [begin, end];
  return g.op('Pad', [v, g.const('int64', [2 * rank], pads)]);
}

/**
 * Stride 1: with Xᵤ[h, w] = x[h + u − p, w], dW[:, :, u, v] = Σ dY[h, w − v + p]·Xᵤ[h, w] over each image's
 * [Ho, W] (zero outside), or equally Σ dY[h, w]·Xᵤ[h, w + v − p] over [Ho, Wo]. One Gather of x's rows (padded by p)
 * stacks the Xᵤ as [B, Ci, k, Ho, W], k·Ci rows an image; per column offset v, one batched GEMM over the images pairs
 * the stack with dY shifted by the column (shiftColumns), or, where the stack has fewer rows than dY (an image's first
 * conv: k·Ci < Co), dY with the stack shifted. The k products are summed over the images once, side by side.
 * Against the channel-major shifts (batch 256, one thread, ms): 16→16 on 32×32 26.9 against 36.5 (the products read
 * each operand once per v, k·Ci + Co rows, where nine GEMMs of Co + Ci rows read 9·(Co + Ci)), 32→32 on 16×16 19.9
 * against 21.3, and no transposes to channel-major.
 */
function perImage(g: GraphBuilder, { ci, co, w, ho, wo, k, p }: ConvGeometry, x: string, dy: string): string {
  // [B, Ci, k, Ho, W]; an unpadded 1×1 conv's only offset is x itself.
  const stack = k === 1 && p === 0 ? x : g.op('Gather', [pad(g, x, 4, [[2, p, p]]), rowOffsets(g, k, ho)], { axis: 2 });
  const shiftStack = k * ci < co;
  // dY on the right, each image's product [k·Ci, L]·[L, Co]: with dY on the left, ResNet's 16→16 products took 18.2 ms
  // against 13.1, and its first conv's (3→16, a stack of 9 rows) 11.2 against 10.3.
  const products = Array.from({ length: k }, (_, v) => {
    const dyOperand = reshape(g, shiftStack ? dy : shiftColumns(g, dy, wo, w, v - p), [0, co, -1]);
    const stackOperand = reshape(g, shiftStack ? shiftColumns(g, stack, w, wo, p - v) : stack, [0, k * ci, -1]);
    return g.domainOp('com.microsoft', 'FusedMatMul', [stackOperand, dyOperand], { transB: 1 });
  });
  // Side by side and summed over the images: [(v, ci, u), Co].
  const all = reduceSum(g, g.op('Concat', products, { axis: 1 }), [0], false);
  return g.op('Transpose', [reshape(g, all, [k, ci, k, co])], { perm: [3, 1, 2, 0] });
}

/**
 * v's last axis, `from` columns wide, as `to` columns with column c taken from c − shift (zeros where that is outside
 * v): a product with a 0/1 matrix. Where v's values are finite it gives a Pad's floats (each output is one value times
 * 1 plus zeros), and it runs as one GEMM that splits over threads, where ONNX Runtime's Pad copies row by row on one
 * thread. Shifting dY [256, 16, 32, 32] by a column took 2.5–2.8 ms (one thread) and 1.3–1.5 (two) against 3.1–3.5 and
 * 3.3 for a Pad; [256, 32, 16, 16] 0.8–0.9 and 0.5–0.6 against 2.2–2.3.
 */
function shiftColumns(g: GraphBuilder, v: string, from: number, to: number, shift: number): string {
  if (shift === 0 && from === to) return v;
  const matrix = new Float32Array(from * to);
  for (let c = Math.max(shift, 0); c < Math.min(to, from + shift); c++) matrix[(c - shift) * to + c] = 1;
  return g.op('MatMul', [v, g.const('float32', [from, to], matrix)]);
}

/** Gather indices [k, Ho] into x padded by p rows: row r + u for offset u and output row r. */
function rowOffsets(g: GraphBuilder, k: number, ho: number): string {
  const rows = new BigInt64Array(k * ho);
  for (let u = 0; u < k; u++) for (let r = 0; r < ho; r++) rows[u * ho + r] = BigInt(r + u);
  return g.const('int64', [k, ho], rows);
}

/**
 * Channel first, so the batch joins each product's inner dimension: dY as [Co, B·Ho·Wo] times x at offset (u, v) as
 * [Ci, B·Ho·Wo], transposed, is dW[:, :, u, v]. Each product runs as two halves of the inner dimension, so that two
 * intra-op threads share it. With fewer than 16 input channels the k² windows go side by side into one GEMM,
 * [Co, k²·Ci], as im2col would; with stride 1 and more channels, no windows: the row offset shifts x and the column
 * offset shifts dY.
 */
function channelMajor(g: GraphBuilder, { ci, co, w, ho, wo, k, s, p }: ConvGeometry, x: string, dy: string): string {
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
  // is dY) instead of a padded x and k² window Slices. ResNet's 32→32 conv on 16×16 at batch 256: 20 ms against 23.
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
  const offsets = Array.from({ length: k }, (_, i) => i);
  let all: string; // [Co, k²·Ci] ordered (u, v, c)
  if (shifted) {
    const xRows = offsets.map((u) => operand(pad(g, xc, 4, [[rows, p - u, p - k + 1 + u]]), ci));
    const dyCols = offsets.map((v) => operand(pad(g, dyc, 4, [[cols, v - p, k - 1 - p - v]]), co));
    all = sideBySide(offsets.flatMap((u) => offsets.map((v) => product(dyCols[v]!, xRows[u]!))));
  } else {
    const padded = pad(g, xc, 4, [[rows, p, p], [cols, p, p]]);
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
