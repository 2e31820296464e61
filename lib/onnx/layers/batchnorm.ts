/**
 * Batch normalization over [B, C] (BatchNorm1d) or [B, C, H, W] (BatchNorm2d), PyTorch semantics:
 * training normalizes with the batch mean and biased variance and moves the running stats by
 * `momentum`: running = (1 − momentum)·running + momentum·batch, the variance unbiased (·n/(n−1));
 * inference normalizes with the running stats (ONNX BatchNormalization).
 */
import type { Tape } from '../autodiff/tape.js';
import { float } from '../graph.js';
import { DataType } from '../proto.js';
import { axes, reduceMean, reduceSum, reshape, scalar } from '../ops.js';
import { featureShape } from './shapes.js';

export interface BatchNormOptions { momentum?: number; eps?: number }

export function batchNorm(t: Tape, name: string, x: string, opts: BatchNormOptions = {}): string {
  const { g } = t;
  const { momentum = 0.1, eps = 1e-5 } = opts;
  const features = featureShape(t, x, `batchNorm ${name}`);
  if (features.length !== 1 && features.length !== 3) throw new Error(`batchNorm ${name}: expects [B, C] or [B, C, H, W], got [${t.shape(x)}]`);
  const c = features[0]!;
  const perChannel = (suffix: string, init: 'zeros' | 'ones') => ({ name: `${name}.${suffix}`, shape: [c], fanIn: 1, init });
  const weight = t.param(perChannel('weight', 'ones'));
  const bias = t.param(perChannel('bias', 'zeros'));
  const runningMean = t.buffer(perChannel('running_mean', 'zeros'));
  const runningVar = t.buffer(perChannel('running_var', 'ones'));

  if (!t.training) {
    const y = g.op('BatchNormalization', [x, weight, bias, runningMean, runningVar], { epsilon: float(eps) });
    return t.setShape(y, t.shape(x));
  }

  // Training uses batch statistics. The forward is BatchNormalization fed those (one fused op); the backward
  // works on the centered input xc, with per-channel coefficients so that only 5 ops touch full-size tensors:
  // dx = a·dy + b·xc + c, a = γ·invStd, b = −a·invStd²·mean(dy·xc), c = −a·mean(dy).
  const over = features.length === 1 ? [0] : [0, 2, 3];
  const broadcast = features.length === 1 ? [1, c] : [1, c, 1, 1];
  const n = g.op('Div', [g.op('Cast', [g.op('Size', [x])], { to: DataType.float32 }), scalar(g, c)]);
  const mean = reduceMean(g, x, over, true);
  const centered = g.op('Sub', [x, mean]);
  const variance = g.op('Div', [g.op('ReduceSumSquare', [centered, axes(g, over)], { keepdims: 1 }), n]);
  const batchMean = reshape(g, mean, [c]);
  const batchVar = reshape(g, variance, [c]);
  const y = g.op('BatchNormalization', [x, weight, bias, batchMean, batchVar], { epsilon: float(eps) });

  const bessel = g.op('Div', [n, g.op('Max', [g.op('Sub', [n, scalar(g, 1)]), scalar(g, 1)])]);
  const blend = (running: string, batch: string) => g.op('Add', [
    g.op('Mul', [running, scalar(g, 1 - momentum)]), g.op('Mul', [batch, scalar(g, momentum)]),
  ]);
  t.updateBuffer(`${name}.running_mean`, blend(runningMean, batchMean));
  t.updateBuffer(`${name}.running_var`, blend(runningVar, g.op('Mul', [batchVar, bessel])));

  t.record([x, weight, bias], [y], ([dy], [dx, dw, db]) => {
    const invStd = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance, scalar(g, eps)])])]);
    const sumDy = reduceSum(g, dy!, over, true);
    const sumDyXc = reduceSum(g, g.op('Mul', [dy!, centered]), over, true);
    const a = g.op('Mul', [reshape(g, weight, broadcast), invStd]);
    const perSample = (v: string) => g.op('Div', [v, n]);
    const b = g.op('Neg', [g.op('Mul', [g.op('Mul', [a, g.op('Mul', [invStd, invStd])]), perSample(sumDyXc)])]);
    const cc = g.op('Neg', [g.op('Mul', [a, perSample(sumDy)])]);
    return [
      dx ? g.op('Add', [g.op('Add', [g.op('Mul', [dy!, a]), g.op('Mul', [centered, b])]), cc]) : undefined,
      dw ? reshape(g, g.op('Mul', [sumDyXc, invStd]), [c]) : undefined,
      db ? reshape(g, sumDy, [c]) : undefined,
    ];
  });
  return t.setShape(y, t.shape(x));
}
