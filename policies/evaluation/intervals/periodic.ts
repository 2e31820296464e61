import { parseDuration } from '../../duration.js';
import type { TimeInterval } from './interval.js';

/** A window [point − before, point + after) around each point `every` seconds apart, from `start` up to `end`. */
export function periodicWindows(start: number, end: number, every: string, before?: string, after?: string): Omit<TimeInterval, 'intervalId'>[] {
  const step = parseDuration(every);
  const ahead = before === undefined ? 0 : parseDuration(before);
  const past = after === undefined ? 0 : parseDuration(after);
  const intervals: Omit<TimeInterval, 'intervalId'>[] = [];
  for (let point = start; point < end; point += step) intervals.push({ startTs: point - ahead, endTs: point + past });
  return intervals;
}
