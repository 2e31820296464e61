import { z } from 'zod';
import { durationSchema } from '../../duration.js';

/** A point in sample time: seconds as the dataset's timestamps, or an ISO date such as "2026-01-03". */
export const sampleTimeSchema = z.union([
  z.number().int(),
  z.string().refine((text) => !Number.isNaN(Date.parse(text)), 'expected seconds or an ISO date such as "2026-01-03"'),
]);
export type SampleTime = z.infer<typeof sampleTimeSchema>;

/** Seconds of a sample time. */
export function sampleTimeSeconds(time: SampleTime): number {
  return typeof time === 'number' ? time : Math.floor(Date.parse(time) / 1000);
}

/** Absent bounds default to the evaluated data's first and last timestamps. */
const bounds = { start: sampleTimeSchema.optional(), end: sampleTimeSchema.optional() };

/** An offset around a training interval: "0" (the interval itself), "-inf"/"+inf" (all before/after), "+1d", "-12h". */
export const offsetSchema = z.preprocess((value) => (value === 0 ? '0' : value), z.string().refine(
  (text) => ['0', '-inf', 'inf', '+inf'].includes(text) || (/^[+-]/.test(text) && durationSchema.safeParse(text.slice(1)).success),
  'expected "0", "-inf", "+inf" or a signed duration such as "+1d" or "-12h"',
));

/**
 * How `evaluation.afterPipeline` and `tide evaluate` cut sample time into evaluation intervals (modyn.md §7):
 * - slicing: consecutive intervals of `every`;
 * - periodic: a window from `before` ahead of to `after` past each point, the points `every` apart;
 * - static: the listed intervals;
 * - offset: around each model's training interval, e.g. ["-1d", "0", "+1d"]: the day before, the interval, the day after;
 * - betweenTriggers: from each trigger's first sample to the next trigger's.
 */
export const strategySchema = z.preprocess(
  (value) => (typeof value === 'string' ? { kind: value } : value),
  z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('slicing'), every: durationSchema, ...bounds }),
    z.strictObject({ kind: z.literal('periodic'), every: durationSchema, before: durationSchema.optional(), after: durationSchema.optional(), ...bounds })
      .refine((s) => s.before !== undefined || s.after !== undefined, { message: 'set before, after or both: the window around each point', path: ['after'] }),
    z.strictObject({
      kind: z.literal('static'),
      intervals: z.array(z.strictObject({ start: sampleTimeSchema, end: sampleTimeSchema })
        .refine((i) => sampleTimeSeconds(i.end) > sampleTimeSeconds(i.start), { message: 'must be after start', path: ['end'] })).min(1),
    }),
    z.strictObject({ kind: z.literal('offset'), offsets: z.array(offsetSchema).min(1) }),
    z.strictObject({ kind: z.literal('betweenTriggers') }),
  ]),
);
export type EvaluationStrategy = z.infer<typeof strategySchema>;
