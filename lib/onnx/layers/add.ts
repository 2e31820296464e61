/** Elementwise sum of same-shaped values (residual connections); the tape sums the gradients of a value used twice. */
import type { Tape } from '../autodiff/tape.js';

export function add(t: Tape, a: string, b: string): string {
  const [sa, sb] = [t.shape(a), t.shape(b)];
  if (sa.length !== sb.length || sa.some((d, i) => d !== sb[i])) throw new Error(`add: shapes [${sa}] and [${sb}] differ`);
  const y = t.g.op('Add', [a, b]);
  t.record([a, b], [y], ([dy]) => [dy, dy]);
  return t.setShape(y, sa);
}
