import type { BatchDescriptor } from '../batches.js';
import type { TriggerPolicy } from './policy.js';

export interface DataAmountState {
  /** Samples seen since the last trigger. */
  pending: number;
}

/** Triggers after every `every` samples; keys are dense, so each cut is found by counting alone. */
export function dataAmountTrigger(every: number): TriggerPolicy<DataAmountState> {
  return {
    initialState: () => ({ pending: 0 }),
    splitPoints: () => [],
    inform(state, segments: BatchDescriptor[]) {
      let pending = state.pending;
      const cuts: number[] = [];
      for (const segment of segments) {
        let consumed = 0;
        while (segment.count - consumed >= every - pending) {
          consumed += every - pending;
          cuts.push(segment.firstKey + consumed - 1);
          pending = 0;
        }
        pending += segment.count - consumed;
      }
      return { state: { pending }, cuts };
    },
  };
}
