import type { BatchDescriptor } from '../batches.js';
import type { TriggerPolicy } from './policy.js';

export interface TimeState {
  /** Sample time at which the current period ends; null until the first sample is seen. */
  boundary: number | null;
  /** Last key seen, and whether samples arrived since the last trigger. */
  lastKey: number;
  pending: boolean;
}

/**
 * Triggers once per `everySeconds` of sample time. When a sample at or past the period boundary
 * arrives, the trigger covers everything before it (as Modyn's TimeTrigger does); periods without
 * data produce no empty triggers. Batches are split at boundaries first, so a cut falls on the
 * exact sample, not on a file edge.
 */
export function timeTrigger(everySeconds: number, start?: number): TriggerPolicy<TimeState> {
  const firstBoundary = (state: TimeState, batch: BatchDescriptor) =>
    state.boundary ?? (start ?? batch.minTs) + everySeconds;

  return {
    initialState: () => ({ boundary: null, lastKey: 0, pending: false }),
    splitPoints(state, batch) {
      const points: number[] = [];
      for (let b = firstBoundary(state, batch); b <= batch.maxTs; b += everySeconds) {
        if (b > batch.minTs) points.push(b);
      }
      return points;
    },
    inform(state, segments) {
      let { boundary, lastKey, pending } = state;
      const cuts: number[] = [];
      for (const segment of segments) {
        boundary ??= (start ?? segment.minTs) + everySeconds;
        if (segment.minTs >= boundary) {
          if (pending) cuts.push(lastKey);
          pending = false;
          // Skip whole empty periods in one step, so a long gap costs no loop per period.
          boundary += Math.floor((segment.minTs - boundary) / everySeconds + 1) * everySeconds;
        }
        lastKey = segment.lastKey;
        pending = true;
      }
      return { state: { boundary, lastKey, pending }, cuts };
    },
  };
}
