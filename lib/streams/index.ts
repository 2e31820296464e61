import { criteoDrift } from './criteo-drift.js';
import { hyperplane } from './hyperplane.js';
import { mnistAbrupt } from './mnist-abrupt.js';
import { mnistGradual } from './mnist-gradual.js';
import { mnistLabelShift } from './mnist-label-shift.js';
import { sea } from './sea.js';
import type { Stream } from './stream.js';

/** The benchmark streams `tide data` prepares, in the order it lists them. */
export const STREAMS: readonly Stream[] = [mnistGradual, mnistAbrupt, mnistLabelShift, sea, hyperplane, criteoDrift];

export function findStream(name: string): Stream {
  const found = STREAMS.find((s) => s.name === name);
  if (!found) throw new Error(`unknown stream "${name}"; the streams are ${STREAMS.map((s) => s.name).join(', ')}`);
  return found;
}
