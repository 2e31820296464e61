import { parseDuration } from '../../duration.js';
import type { TimeInterval } from './interval.js';

/** Consecutive intervals of `every` seconds from `start`; the last one ends at `end`. */
export function slices(start: number, end: number, every: string): Omit<TimeInterval, 'intervalId'>[] {
  const step = parseDuration(every);
  const intervals: Omit<TimeInterval, 'intervalId'>[] = [];
  for (let at = start; at < end; at += step) intervals.push({ startTs: at, endTs: Math.min(at + step, end) });
  return intervals;
}
