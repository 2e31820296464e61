/** Independent seeds derived from one: per epoch of a selection, per pass of RS2. */
import { createRng } from '../../rng.js';

/** A seed for stream `stream` of `seed`: the key mixed by a golden-ratio multiple, then one mulberry32 step. */
export function derivedSeed(seed: number, stream: number): number {
  return createRng((seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0).nextUint32();
}
