/** Elementwise activations. Each backward uses the forward output where that is enough, so the input need not be kept. */
import type { Tape } from '../autodiff/tape.js';
import { scalar } from '../ops.js';
import { DataType } from '../proto.js';

function elementwise(t: Tape, x: string, y: string, backward: (dy: string) => string): string {
  t.record([x], [y], ([dy]) => [backward(dy!)]);
  return t.setShape(y, t.shape(x));
}

/**
 * dx = dy where y > 0 (y > 0 exactly where x > 0). Mul by the Cast mask measured ~40% faster on the CPU EP than
 * Where(y > 0, dy, 0) (and than Mul by Sign(y)).
 */
export function relu(t: Tape, x: string): string {
  const { g } = t;
  const y = g.op('Relu', [x]);
  return elementwise(t, x, y, (dy) => g.op('Mul', [dy, g.op('Cast', [g.op('Greater', [y, scalar(g, 0)])], { to: DataType.float32 })]));
}

/**
 * Exact (erf) GELU, PyTorch's default: y = x·Φ(x) with Φ the standard normal CDF, Φ(x) = (1 + erf(x/√2))/2.
 * dy/dx = Φ(x) + x·φ(x), φ(x) = exp(-x²/2)/√(2π). Opset 18 has no Gelu op, hence Erf.
 */
export function gelu(t: Tape, x: string): string {
  const { g } = t;
  const half = scalar(g, 0.5);
  const cdf = g.op('Mul', [half, g.op('Add', [scalar(g, 1), g.op('Erf', [g.op('Mul', [x, scalar(g, Math.SQRT1_2)])])])]);
  const y = g.op('Mul', [x, cdf]);
  return elementwise(t, x, y, (dy) => {
    const pdf = g.op('Mul', [g.op('Exp', [g.op('Mul', [g.op('Mul', [x, x]), scalar(g, -0.5)])]), scalar(g, 1 / Math.sqrt(2 * Math.PI))]);
    return g.op('Mul', [dy, g.op('Add', [cdf, g.op('Mul', [x, pdf])])]);
  });
}

/** dx = dy·y·(1 − y). */
export function sigmoid(t: Tape, x: string): string {
  const { g } = t;
  const y = g.op('Sigmoid', [x]);
  return elementwise(t, x, y, (dy) => g.op('Mul', [dy, g.op('Mul', [y, g.op('Sub', [scalar(g, 1), y])])]));
}

/** dx = dy·(1 − y²). */
export function tanh(t: Tape, x: string): string {
  const { g } = t;
  const y = g.op('Tanh', [x]);
  return elementwise(t, x, y, (dy) => g.op('Mul', [dy, g.op('Sub', [scalar(g, 1), g.op('Mul', [y, y])])]));
}
