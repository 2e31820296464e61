import { idle, type TriggerPolicy } from './protocol.js';

export interface DataAmountState {
  /** Samples seen since the last trigger. */
  pending: number;
  /** Last key seen. */
  lastKey?: number;
}

/** Triggers after every `every` samples; keys are dense, so each cut is found by counting alone. */
export function dataAmountTrigger(every: number): TriggerPolicy<DataAmountState> {
  return {
    initialState: () => ({ pending: 0, lastKey: 0 }),
    decidedThrough: (state) => state.lastKey ?? 0,
    step(state, event) {
      if (event.kind !== 'data') return idle(state);
      const { batch } = event;
      let pending = state.pending;
      let consumed = 0;
      const commands = [];
      while (batch.count - consumed >= every - pending) {
        consumed += every - pending;
        commands.push({ kind: 'cut' as const, lastKey: batch.firstKey + consumed - 1, reason: `${every} samples since the last trigger` });
        pending = 0;
      }
      pending += batch.count - consumed;
      return { state: { pending, lastKey: batch.lastKey }, commands, evaluations: [] };
    },
  };
}
