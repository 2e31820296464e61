/** Spatial pooling over [B, C, H, W] without padding (PyTorch's default): max, average, global average. */
import type { Tape } from '../autodiff/tape.js';
import { reshape, reshapeLike, scalar } from '../ops.js';
import { expectRank, withBatchOf } from './shapes.js';

export interface Pool2dOptions {
  kernel: number;
  /** Default: the kernel size (non-overlapping windows). */
  stride?: number;
}

interface PoolGeometry { c: number; h: number; w: number; ho: number; wo: number; k: number; s: number }

function geometry(t: Tape, x: string, opts: Pool2dOptions, layer: string): PoolGeometry {
  const [c, h, w] = expectRank(t, x, 4, layer) as [number, number, number];
  const { kernel: k, stride: s = k } = opts;
  if (k > h || k > w) throw new Error(`${layer}: kernel ${k} larger than the ${h}×${w} input`);
  return { c, h, w, ho: Math.floor((h - k) / s) + 1, wo: Math.floor((w - k) / s) + 1, k, s };
}

/**
 * Max pooling. Backward routes each output gradient to the first maximum of its window (row-major), as PyTorch
 * does, through the Indices output of MaxPool (flat over the whole NCHW tensor in ORT, batch and channel offsets
 * included). Non-overlapping windows scatter with MaxUnpool; overlapping ones need ScatterElements with 'add',
 * since a cell can be the maximum of several windows. Measured at B=64 with 8–32 channels, MaxPool-with-Indices
 * plus MaxUnpool was 25–30% faster than the indices-free SpaceToDepth/ArgMax/DepthToSpace formulation
 * (DepthToSpace is slow on the CPU EP), although the Indices kernel itself is several times slower than plain
 * MaxPool, which inference uses.
 */
export function maxPool2d(t: Tape, x: string, opts: Pool2dOptions): string {
  const { g } = t;
  const geo = geometry(t, x, opts, 'maxPool2d');
  const attrs = { kernel_shape: [geo.k, geo.k], strides: [geo.s, geo.s] };
  if (!t.training) return withBatchOf(t, g.op('MaxPool', [x], attrs), x, [geo.c, geo.ho, geo.wo]);

  const [y, indices] = g.opN('MaxPool', [x], 2, attrs) as [string, string];
  t.record([x], [y], ([dy]) => {
    if (geo.s >= geo.k) return [g.op('MaxUnpool', [dy!, indices, g.op('Shape', [x])], attrs)];
    const zeros = g.op('ConstantOfShape', [reshape(g, g.op('Size', [x]), [1])]);
    const flat = g.op('ScatterElements', [zeros, reshape(g, indices, [-1]), reshape(g, dy!, [-1])], { axis: 0, reduction: 'add' });
    return [reshapeLike(g, flat, x)];
  });
  return withBatchOf(t, y, x, [geo.c, geo.ho, geo.wo]);
}

/**
 * Average pooling. Backward spreads dy/k² over each window: a ConvTranspose with a constant k×k kernel,
 * run per plane by folding channels into the batch, so overlapping windows add up.
 */
export function avgPool2d(t: Tape, x: string, opts: Pool2dOptions): string {
  const { g } = t;
  const geo = geometry(t, x, opts, 'avgPool2d');
  const { k, s, h, w, ho, wo } = geo;
  const y = g.op('AveragePool', [x], { kernel_shape: [k, k], strides: [s, s] });
  t.record([x], [y], ([dy]) => {
    const spread = g.const('float32', [1, 1, k, k], new Float32Array(k * k).fill(1 / (k * k)));
    const planes = reshape(g, dy!, [-1, 1, ho, wo]);
    const dx = g.op('ConvTranspose', [planes, spread], { strides: [s, s], output_padding: [(h - k) % s, (w - k) % s] });
    return [reshapeLike(g, dx, x)];
  });
  return withBatchOf(t, y, x, [geo.c, ho, wo]);
}

/** [B, C, H, W] → [B, C, 1, 1] mean over each plane. */
export function globalAvgPool(t: Tape, x: string): string {
  const { g } = t;
  const [c, h, w] = expectRank(t, x, 4, 'globalAvgPool') as [number, number, number];
  const y = g.op('GlobalAveragePool', [x]);
  t.record([x], [y], ([dy]) => [g.op('Expand', [g.op('Mul', [dy!, scalar(g, 1 / (h * w))]), g.op('Shape', [x])])]);
  return withBatchOf(t, y, x, [c, 1, 1]);
}
