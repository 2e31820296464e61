/**
 * Feature standardization over [B, F] inputs: y = (x − mean) · scale with per-feature `mean` and `scale` (1/std)
 * buffers, fitted on each trigger's training set (lib/train/feature-statistics.ts) rather than learned. As
 * buffers they travel with the model's state and are initializers of the exported inference graph, so a served
 * model takes raw features. Nothing upstream has parameters, so the tape needs no backward for it.
 */
import type { Tape } from '../autodiff/tape.js';
import { expectRank } from './shapes.js';

export const STANDARDIZE = 'standardize';

export function standardize(t: Tape, x: string): string {
  const [features] = expectRank(t, x, 2, STANDARDIZE) as [number];
  const mean = t.buffer({ name: `${STANDARDIZE}.mean`, shape: [features], fanIn: 1, init: 'zeros' });
  const scale = t.buffer({ name: `${STANDARDIZE}.scale`, shape: [features], fanIn: 1, init: 'ones' });
  return t.setShape(t.g.op('Mul', [t.g.op('Sub', [x, mean]), scale]), t.shape(x));
}
