/** Concatenation along a non-batch axis; backward splits the gradient back into the parts' sizes. */
import type { Tape } from '../autodiff/tape.js';
import { featureShape, withBatchOf } from './shapes.js';

export function concat(t: Tape, xs: string[], axis: number): string {
  const { g } = t;
  const shapes = xs.map((x) => featureShape(t, x, 'concat'));
  const rank = shapes[0]!.length + 1;
  if (axis < 1 || axis >= rank) throw new Error(`concat: axis ${axis} must be a non-batch axis of rank-${rank} inputs`);
  const sizes = shapes.map((s) => s[axis - 1]!);
  shapes.forEach((s) => {
    if (s.length + 1 !== rank || s.some((d, i) => i !== axis - 1 && d !== shapes[0]![i])) {
      throw new Error(`concat: shapes ${xs.map((x) => `[${t.shape(x)}]`).join(', ')} differ off axis ${axis}`);
    }
  });
  const y = g.op('Concat', xs, { axis });
  t.record(xs, [y], ([dy]) => g.opN('Split', [dy!, g.const('int64', [sizes.length], sizes)], sizes.length, { axis }));
  const out = [...shapes[0]!];
  out[axis - 1] = sizes.reduce((a, b) => a + b, 0);
  return withBatchOf(t, y, xs[0]!, out);
}
