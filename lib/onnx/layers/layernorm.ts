/**
 * Layer normalization over the last axis with an affine weight and bias (nn.LayerNorm(d)). ONNX
 * LayerNormalization (opset 17) also outputs the mean and 1/std it used, which the backward reuses:
 * dx = invStd · (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) over the last axis, dx̂ = dy·γ.
 */
import type { Tape } from '../autodiff/tape.js';
import { float } from '../graph.js';
import { reduceMean, reduceSum } from '../ops.js';
import { featureShape } from './shapes.js';

export interface LayerNormOptions { eps?: number }

export function layerNorm(t: Tape, name: string, x: string, opts: LayerNormOptions = {}): string {
  const { g } = t;
  const features = featureShape(t, x, `layerNorm ${name}`);
  const d = features.at(-1)!;
  const weight = t.param({ name: `${name}.weight`, shape: [d], fanIn: 1, init: 'ones' });
  const bias = t.param({ name: `${name}.bias`, shape: [d], fanIn: 1, init: 'zeros' });
  const attrs = { axis: -1, epsilon: float(opts.eps ?? 1e-5) };
  if (!t.training) return t.setShape(g.op('LayerNormalization', [x, weight, bias], attrs), t.shape(x));

  const [y, mean, invStd] = g.opN('LayerNormalization', [x, weight, bias], 3, attrs) as [string, string, string];
  const last = features.length;
  const others = Array.from({ length: last }, (_, i) => i);
  t.record([x, weight, bias], [y], ([dy], [dx, dw, db]) => {
    const xhat = g.op('Mul', [g.op('Sub', [x, mean]), invStd]);
    return [
      dx ? inputGradient(dy!, xhat) : undefined,
      dw ? reduceSum(g, g.op('Mul', [dy!, xhat]), others, false) : undefined,
      db ? reduceSum(g, dy!, others, false) : undefined,
    ];
  });
  function inputGradient(dy: string, xhat: string): string {
    const dxhat = g.op('Mul', [dy, weight]);
    const projection = g.op('Mul', [xhat, reduceMean(g, g.op('Mul', [dxhat, xhat]), [last], true)]);
    return g.op('Mul', [invStd, g.op('Sub', [g.op('Sub', [dxhat, reduceMean(g, dxhat, [last], true)]), projection])]);
  }
  return t.setShape(y, t.shape(x));
}
