import { parseDuration } from '../../duration.js';
import type { PlanningContext, TimeInterval } from './interval.js';

/**
 * One interval per offset around each trained trigger's new data [minTs, maxTs], for that trigger's model alone:
 * "0" is the data itself, "-inf"/"+inf" all data before/after it, "-d"/"+d" the `d` just before/after it.
 */
export function offsetIntervals(offsets: string[], { data, triggers }: PlanningContext): Omit<TimeInterval, 'intervalId'>[] {
  if (!data) return [];
  const intervals: Omit<TimeInterval, 'intervalId'>[] = [];
  for (const trigger of triggers.filter((t) => t.trained)) {
    const first = trigger.minTs;
    const afterLast = trigger.maxTs + 1;
    for (const offset of offsets) {
      const span = offset === '0' ? [first, afterLast]
        : offset === '-inf' ? [data.minTs, first]
        : offset === 'inf' || offset === '+inf' ? [afterLast, data.maxTs + 1]
        : offset.startsWith('-') ? [first - parseDuration(offset.slice(1)), first]
        : [afterLast, afterLast + parseDuration(offset.slice(1))];
      intervals.push({ startTs: span[0]!, endTs: span[1]!, model: trigger.triggerId });
    }
  }
  return intervals;
}
