import type { KeyRange } from '../batches.js';
import type { SelectionSpec } from '../spec.js';

/** A trigger's data: the new samples since the previous trigger, up to and including its cut. */
export interface TriggerRange extends KeyRange {
  triggerId: number;
}

/**
 * The key ranges a trigger's training set is drawn from. `firstDatasetKey` is the first key the
 * pipeline saw; the data plane then drops held-out samples and applies weights.
 */
export function selectionRanges(spec: SelectionSpec, trigger: TriggerRange, firstDatasetKey: number): KeyRange[] {
  switch (spec.kind) {
    case 'newData':
      return [{ firstKey: trigger.firstKey, lastKey: trigger.lastKey }];
    case 'allData':
      return [{ firstKey: firstDatasetKey, lastKey: trigger.lastKey }];
  }
}
