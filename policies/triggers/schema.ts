import { z } from 'zod';
import { durationSchema } from '../duration.js';

/**
 * The `trigger` section of the pipeline spec: one entry per trigger kind. Model-aware kinds (dataDrift,
 * performance, cost) are evaluated every `every` samples of new data; ensembles nest any kind.
 */

const positiveInt = z.number().int().positive();
const fraction = z.number().min(0).max(1);

const dataAmountSchema = z.strictObject({ kind: z.literal('dataAmount'), every: positiveInt });
const timeSchema = z.strictObject({
  kind: z.literal('time'),
  every: durationSchema,
  /** First period starts here (sample time, seconds); default: the first sample's timestamp. */
  start: z.number().int().optional(),
});

/** What decides during the first evaluations, while no history calibrates dynamic criteria yet. */
const warmupSchema = z.strictObject({
  evaluations: positiveInt,
  policy: z.discriminatedUnion('kind', [dataAmountSchema, timeSchema]),
});

/**
 * How a score becomes a decision: a fixed threshold, or thresholds that follow the last `window` scores
 * (their (1 − quantile) quantile, or their mean plus a deviation). Dynamic criteria need a warm-up.
 */
export const criterionSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('threshold'), value: z.number() }),
  z.strictObject({
    kind: z.literal('quantile'),
    window: positiveInt.default(10),
    quantile: z.number().gt(0).lt(1).default(0.05),
  }),
  z.strictObject({
    kind: z.literal('rollingAverage'),
    window: positiveInt.default(10),
    deviation: z.number().positive().default(0.05),
    /** Deviation in the score's units; else relative to the average. */
    absolute: z.boolean().default(false),
  }),
]);

const featureTest = {
  correction: z.enum(['bonferroni', 'fdr']).default('bonferroni'),
  pValue: z.number().gt(0).lt(1).default(0.05),
  /** Absent: the corrected per-dimension test decides; present: the criterion on the mean statistic. */
  criterion: criterionSchema.optional(),
};

/** Largest meaningful threshold of each metric's score (MMD² of an RBF kernel is at most 2). */
const SCORE_MAX: Record<string, number> = { mmd: 2, ks: 1, cvm: Infinity, hellinger: 1, meanDistance: Infinity };

const driftMetricSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('mmd'), criterion: criterionSchema }),
    z.strictObject({ kind: z.literal('ks'), ...featureTest }),
    z.strictObject({ kind: z.literal('cvm'), ...featureTest }),
    z.strictObject({ kind: z.literal('hellinger'), bins: z.number().int().min(2).max(1000).default(20), criterion: criterionSchema }),
    z.strictObject({ kind: z.literal('meanDistance'), criterion: criterionSchema }),
  ])
  .superRefine((metric, ctx) => {
    const c = metric.criterion;
    if (c?.kind === 'threshold' && (c.value < 0 || c.value > SCORE_MAX[metric.kind]!)) {
      ctx.addIssue({ code: 'custom', path: ['criterion', 'value'], message: `threshold ${c.value} is outside [0, ${SCORE_MAX[metric.kind]}] for ${metric.kind}` });
    }
  });

/** A window of samples: the last N samples, or the last span of sample time. */
const windowSchema = z.union([
  z.strictObject({ samples: positiveInt }),
  z.strictObject({ duration: durationSchema }),
]);

const voteSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('majority') }),
  z.strictObject({ kind: z.literal('any') }),
  z.strictObject({ kind: z.literal('all') }),
  z.strictObject({ kind: z.literal('atLeast'), n: positiveInt }),
]);

/** Every evaluation needs a complete interval, and dynamic criteria need scores from a warm-up. */
const batched = {
  /** Samples of new data between two evaluations (leftovers carry over). */
  every: positiveInt,
  warmup: warmupSchema.optional(),
};

function needsWarmup(criteria: { kind: string }[], warmup: unknown, path: (string | number)[], ctx: z.RefinementCtx) {
  if (!warmup && criteria.some((c) => c.kind !== 'threshold')) {
    ctx.addIssue({ code: 'custom', path, message: 'a dynamic criterion (quantile, rollingAverage) needs a warmup to calibrate it' });
  }
}

const dataDriftSchema = z
  .strictObject({
    kind: z.literal('dataDrift'),
    ...batched,
    /** Reference and current windows: the data before the last trigger, and the data since. */
    window: windowSchema.default({ samples: 1000 }),
    /** Let the current window reach back before the last trigger (else it holds only data since). */
    allowOverlap: z.boolean().default(false),
    /** A seeded uniform subsample of at most this many samples per window. */
    sampleSize: positiveInt.optional(),
    metrics: z.array(driftMetricSchema).min(1),
    aggregation: voteSchema.default({ kind: 'majority' }),
  })
  .superRefine((d, ctx) => {
    if ('samples' in d.window && d.window.samples < d.every) {
      ctx.addIssue({ code: 'custom', path: ['window', 'samples'], message: `window of ${d.window.samples} samples is smaller than every (${d.every})` });
    }
    if (d.aggregation.kind === 'atLeast' && d.aggregation.n > d.metrics.length) {
      ctx.addIssue({ code: 'custom', path: ['aggregation', 'n'], message: `${d.aggregation.n} exceeds the ${d.metrics.length} metrics` });
    }
    d.metrics.forEach((m, i) => {
      if (m.criterion) needsWarmup([m.criterion], d.warmup, ['metrics', i, 'criterion', 'kind'], ctx);
    });
  });

const performanceCriterionSchema = z.union([
  criterionSchema,
  /** Cumulative avoidable misclassifications since the last trigger above `threshold`. */
  z.strictObject({
    kind: z.literal('misclassifications'),
    threshold: positiveInt,
    /** Accuracy the model is expected to keep; default: its accuracy at its first evaluation. */
    expectedAccuracy: fraction.optional(),
  }),
]);

const performanceSchema = z
  .strictObject({
    kind: z.literal('performance'),
    ...batched,
    metric: z.enum(['accuracy', 'f1']).default('accuracy'),
    /** Any criterion that holds triggers. */
    criteria: z.array(performanceCriterionSchema).min(1),
  })
  .superRefine((p, ctx) => {
    p.criteria.forEach((c, i) => {
      if (c.kind === 'threshold' && (c.value < 0 || c.value > 1)) {
        ctx.addIssue({ code: 'custom', path: ['criteria', i, 'value'], message: `threshold ${c.value} is outside [0, 1] for ${p.metric}` });
      }
      if (c.kind === 'quantile' || c.kind === 'rollingAverage') needsWarmup([c], p.warmup, ['criteria', i, 'kind'], ctx);
    });
  });

const costSchema = z.strictObject({
  kind: z.literal('cost'),
  ...batched,
  /**
   * What waiting costs, converted to training seconds: `latency` counts sample-seconds of new data not yet
   * trained on, `misclassifications` the avoidable misclassifications of the current model; `perTrainingSecond`
   * of them weigh as much as one second of training.
   */
  regret: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('latency'), perTrainingSecond: z.number().positive() }),
    z.strictObject({ kind: z.literal('misclassifications'), perTrainingSecond: z.number().positive(), expectedAccuracy: fraction.optional() }),
  ]),
  /** Past triggers the training-time forecast regresses over. */
  forecastWindow: z.number().int().min(1).default(20),
});

const ensembleSchema = z.strictObject({
  kind: z.literal('ensemble'),
  /** Members that fired since the ensemble's last trigger vote for the next. */
  vote: voteSchema.default({ kind: 'any' }),
  get members(): z.ZodRecord<z.ZodString, typeof triggerSchema> {
    return z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'member names are letters, digits, _ and -'), triggerSchema);
  },
});

export const triggerSchema = z
  .discriminatedUnion('kind', [dataAmountSchema, timeSchema, dataDriftSchema, performanceSchema, costSchema, ensembleSchema])
  .superRefine((t, ctx) => {
    if (t.kind !== 'ensemble') return;
    const count = Object.keys(t.members).length;
    if (count === 0) ctx.addIssue({ code: 'custom', path: ['members'], message: 'an ensemble needs at least one member' });
    if (t.vote.kind === 'atLeast' && t.vote.n > count) {
      ctx.addIssue({ code: 'custom', path: ['vote', 'n'], message: `${t.vote.n} exceeds the ${count} members` });
    }
  });

export type TriggerSpec = z.output<typeof triggerSchema>;
export type DataDriftSpec = z.output<typeof dataDriftSchema>;
export type PerformanceSpec = z.output<typeof performanceSchema>;
export type CostSpec = z.output<typeof costSchema>;
export type EnsembleSpec = z.output<typeof ensembleSchema>;
export type WarmupSpec = z.output<typeof warmupSchema>;
export type CriterionSpec = z.output<typeof criterionSchema>;
export type VoteSpec = z.output<typeof voteSchema>;
export type DriftMetricSpec = DataDriftSpec['metrics'][number];

/** Every trigger in the tree with its path in the spec, for checks that look at all members. */
export function eachTrigger(spec: TriggerSpec, path = 'trigger'): [string, TriggerSpec][] {
  if (spec.kind !== 'ensemble') return [[path, spec]];
  return [[path, spec], ...Object.entries(spec.members).flatMap(([name, member]) => eachTrigger(member, `${path}.members.${name}`))];
}
