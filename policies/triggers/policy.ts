import type { BatchDescriptor } from '../batches.js';

/**
 * A triggering policy: pure, deterministic code that the pipeline workflow runs over batch descriptors.
 * Its state must survive JSON (it is carried through continue-as-new), so use plain objects and numbers.
 */
export interface TriggerPolicy<State> {
  initialState(): State;
  /**
   * Sample timestamps at which `batch` must be split before `inform` sees it, for policies that
   * decide on sample time; the workflow asks the data plane for the segments. Empty when none.
   */
  splitPoints(state: State, batch: BatchDescriptor): number[];
  /**
   * Consumes consecutive segments and returns the new state and the trigger cuts they cause: each cut
   * is the last sample key that the trigger includes. Cuts are strictly increasing.
   */
  inform(state: State, segments: BatchDescriptor[]): { state: State; cuts: number[] };
}
