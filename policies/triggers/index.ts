import { parseDuration } from '../duration.js';
import { costTrigger } from './cost.js';
import { dataAmountTrigger } from './data-amount.js';
import { dataDriftTrigger } from './data-drift.js';
import { ensembleTrigger } from './ensemble.js';
import { performanceTrigger } from './performance.js';
import type { AnyTriggerPolicy } from './protocol.js';
import type { TriggerSpec } from './schema.js';
import { timeTrigger } from './time.js';

export type { AnyTriggerPolicy, TriggerCommand, TriggerEvent, TriggerPolicy } from './protocol.js';

/**
 * The registry of triggering policies: one entry per `trigger.kind` of the spec. `seed` (the pipeline's)
 * seeds what policies sample.
 */
export function createTriggerPolicy(spec: TriggerSpec, seed: number): AnyTriggerPolicy {
  const warmupOf = (s: { warmup?: { policy: TriggerSpec } }) => (s.warmup ? createTriggerPolicy(s.warmup.policy, seed) : undefined);
  switch (spec.kind) {
    case 'dataAmount':
      return dataAmountTrigger(spec.every) as AnyTriggerPolicy;
    case 'time':
      return timeTrigger(parseDuration(spec.every), spec.start) as AnyTriggerPolicy;
    case 'dataDrift':
      return dataDriftTrigger(spec, seed, warmupOf(spec)) as AnyTriggerPolicy;
    case 'performance':
      return performanceTrigger(spec, warmupOf(spec)) as AnyTriggerPolicy;
    case 'cost':
      return costTrigger(spec, warmupOf(spec)) as AnyTriggerPolicy;
    case 'ensemble':
      return ensembleTrigger(spec, Object.fromEntries(Object.entries(spec.members).map(([n, m]) => [n, createTriggerPolicy(m, seed)]))) as AnyTriggerPolicy;
  }
}
