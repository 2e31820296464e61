import { parseDuration } from '../duration.js';
import type { TriggerSpec } from '../spec.js';
import { dataAmountTrigger } from './data-amount.js';
import type { TriggerPolicy } from './policy.js';
import { timeTrigger } from './time.js';

export type { TriggerPolicy } from './policy.js';

/** The registry of triggering policies: one entry per `trigger.kind` of the spec. */
export function createTriggerPolicy(spec: TriggerSpec): TriggerPolicy<unknown> {
  switch (spec.kind) {
    case 'dataAmount':
      return dataAmountTrigger(spec.every) as TriggerPolicy<unknown>;
    case 'time':
      return timeTrigger(parseDuration(spec.every), spec.start) as TriggerPolicy<unknown>;
  }
}
