/** Shape-only layers; their backward reshapes the gradient to the input's runtime shape. */
import type { Tape } from '../autodiff/tape.js';
import { reshape as reshapeOp, reshapeLike } from '../ops.js';
import { featureShape, withBatchOf } from './shapes.js';

function recordReshape(t: Tape, x: string, y: string): void {
  t.record([x], [y], ([dy]) => [reshapeLike(t.g, dy!, x)]);
}

/** [B, ...] → [B, product of the rest]. */
export function flatten(t: Tape, x: string): string {
  const features = featureShape(t, x, 'flatten').reduce((a, b) => a * b, 1);
  const y = t.g.op('Flatten', [x], { axis: 1 });
  recordReshape(t, x, y);
  return withBatchOf(t, y, x, [features]);
}

/** Keeps the batch dim and reshapes the rest to `features`. */
export function reshape(t: Tape, x: string, features: number[]): string {
  const from = featureShape(t, x, 'reshape').reduce((a, b) => a * b, 1);
  const to = features.reduce((a, b) => a * b, 1);
  if (from !== to) throw new Error(`reshape: [${t.shape(x)}] has ${from} features per sample, [${features}] needs ${to}`);
  const y = reshapeOp(t.g, x, [0, ...features]);
  recordReshape(t, x, y);
  return withBatchOf(t, y, x, features);
}
