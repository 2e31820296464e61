/** Evaluation intervals in sample time for each strategy of `strategySchema`: adding one is a file and a case here. */
import { parseDuration } from '../../duration.js';
import { betweenTriggers } from './between-triggers.js';
import { MAX_INTERVALS, type PlanningContext, type TimeInterval } from './interval.js';
import { offsetIntervals } from './offset.js';
import { periodicWindows } from './periodic.js';
import { sampleTimeSeconds, type EvaluationStrategy } from './schema.js';
import { slices } from './slicing.js';

export type { PlanningContext, TimeInterval } from './interval.js';
export { strategySchema, type EvaluationStrategy } from './schema.js';

/** A strategy that cannot be planned over the data: the message says why. */
export class IntervalPlanError extends Error {}

function checkCount(strategy: EvaluationStrategy, n: number): void {
  if (n > MAX_INTERVALS) {
    throw new IntervalPlanError(
      `evaluation strategy ${strategy.kind} makes ${n.toLocaleString('en-US')} intervals, more than ${MAX_INTERVALS.toLocaleString('en-US')}` +
        ('every' in strategy ? `: choose an \`every\` longer than ${strategy.every}` : ''),
    );
  }
}

/** Points `every` apart from `start` up to `end`, each starting a slice or centring a periodic window. */
function periodicSpan(strategy: Extract<EvaluationStrategy, { every: string }>, context: PlanningContext): { start: number; end: number } | null {
  const start = strategy.start !== undefined ? sampleTimeSeconds(strategy.start) : context.data?.minTs;
  const end = strategy.end !== undefined ? sampleTimeSeconds(strategy.end) : context.data && context.data.maxTs + 1;
  if (start === undefined || end === undefined || end === null || end <= start) return null;
  checkCount(strategy, Math.ceil((end - start) / parseDuration(strategy.every)));
  return { start, end };
}

/** The strategy's intervals over the context, numbered from 0 in order; empty when there is no data to cut. */
export function planIntervals(strategy: EvaluationStrategy, context: PlanningContext): TimeInterval[] {
  let intervals: Omit<TimeInterval, 'intervalId'>[];
  switch (strategy.kind) {
    case 'slicing': {
      const span = periodicSpan(strategy, context);
      intervals = span ? slices(span.start, span.end, strategy.every) : [];
      break;
    }
    case 'periodic': {
      const span = periodicSpan(strategy, context);
      intervals = span ? periodicWindows(span.start, span.end, strategy.every, strategy.before, strategy.after) : [];
      break;
    }
    case 'static':
      intervals = strategy.intervals.map((i) => ({ startTs: sampleTimeSeconds(i.start), endTs: sampleTimeSeconds(i.end) }));
      break;
    case 'offset':
      checkCount(strategy, strategy.offsets.length * context.triggers.filter((t) => t.trained).length);
      intervals = offsetIntervals(strategy.offsets, context);
      break;
    case 'betweenTriggers':
      checkCount(strategy, context.triggers.length);
      intervals = betweenTriggers(context);
      break;
  }
  return intervals.map((interval, intervalId) => ({ intervalId, ...interval }));
}
