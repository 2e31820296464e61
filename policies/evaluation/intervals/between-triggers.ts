import type { PlanningContext, TimeInterval } from './interval.js';

/** From each trigger's first sample to the next one's; the last trigger's interval runs to the end of the data. */
export function betweenTriggers({ data, triggers }: PlanningContext): Omit<TimeInterval, 'intervalId'>[] {
  if (!data) return [];
  return triggers.map((trigger, i) => ({ startTs: trigger.minTs, endTs: triggers[i + 1]?.minTs ?? data.maxTs + 1 }));
}
