/**
 * Conv through ONNX Runtime's NCHWc kernels (operator domain com.microsoft.nchwc, CPU execution provider):
 * activations in blocks of channels as wide as the CPU's vectors ([B, C/b, H, W, b]; b = 8 with AVX2, 16 with
 * AVX-512) and a direct convolution instead of im2col and a GEMM. ORT rewrites a graph's Convs to these kernels
 * itself only when their weights are constants (an inference graph with initializers); a train step feeds its
 * weights, so its convs ask for them: the input reordered into blocks (or, with fewer channels than a block, read
 * as it is), the weight reordered to the blocked layout in the graph each step (a few thousand values), the output
 * reordered back. Measured against Conv, one intra-op thread, B = 256, AVX-512 (b = 16), reorders included:
 * 3×3 16→16 on 32×32 13–18 ms vs 17–24, 32→32 on 16×16 8–10 vs 11–15, 64→64 on 8×8 7–9 vs 10–11; 1×1 convs
 * gained nothing, so they stay Conv (bench/README.md).
 */
import type { GraphBuilder } from '../graph.js';
import { reshape } from '../ops.js';

const NCHWC = 'com.microsoft.nchwc';

export interface NchwcConvShape { ci: number; co: number; k: number; s: number; p: number; block: number }

/** Whether a conv of this shape runs as an NCHWc Conv: a spatial kernel, whole output blocks, an input of whole blocks or less than one. */
export function nchwcApplies({ ci, co, k, block }: Pick<NchwcConvShape, 'ci' | 'co' | 'k' | 'block'>): boolean {
  return k > 1 && co % block === 0 && (ci % block === 0 || ci < block);
}

/** y = Conv(x, weight[, bias]) over [B, Ci, H, W], [Co, Ci, k, k], as NCHWc kernels compute it; y is NCHW. */
export function nchwcConv(g: GraphBuilder, x: string, weight: string, bias: string | undefined, shape: NchwcConvShape): string {
  const { ci, co, k, s, p, block } = shape;
  const blockedInput = ci >= block;
  // The kernels read weights as [Co/b, Ci/b, k, k, b(in), b(out)] for a blocked input, [Co/b, Ci, k, k, b(out)] for a plain one.
  const blockedWeight = blockedInput
    ? reshape(g, g.op('Transpose', [reshape(g, weight, [co / block, block, ci / block, block, k, k])], { perm: [0, 2, 4, 5, 3, 1] }), [co, ci, k, k])
    : reshape(g, g.op('Transpose', [reshape(g, weight, [co / block, block, ci, k, k])], { perm: [0, 2, 3, 4, 1] }), [co, ci, k, k]);
  const input = blockedInput ? g.domainOp(NCHWC, 'ReorderInput', [x]) : x;
  const y = g.domainOp(NCHWC, 'Conv', bias ? [input, blockedWeight, bias] : [input, blockedWeight], {
    kernel_shape: [k, k], pads: [p, p, p, p], strides: [s, s], group: 1,
  });
  return g.domainOp(NCHWC, 'ReorderOutput', [y], { channels: co });
}
