import { z } from 'zod';

/**
 * The metrics an evaluation cell measures, as the pipeline spec names them (`evaluation.metrics`): one schema
 * entry per metric here, one file per metric in lib/eval/metrics/ (which computes them). Pure, so the workflow
 * sandbox can parse specs with it.
 */

const averageSchema = z.enum(['macro', 'micro', 'weighted', 'binary']);
export type Average = z.output<typeof averageSchema>;

/** A per-class score (precision, recall, f1): the kind and how to average over classes. */
const classScore = <K extends string>(kind: K) => z.strictObject({ kind: z.literal(kind), average: averageSchema.default('macro') });

/** One metric to compute, e.g. `{ kind: 'accuracy', topK: 5 }` or `{ kind: 'f1', average: 'weighted' }`. */
export const metricSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('accuracy'),
    /** Counts a sample as correct when its label is among the k best classes. */
    topK: z.int().min(1).default(1),
  }),
  z.strictObject({ kind: z.literal('loss') }),
  classScore('precision'),
  classScore('recall'),
  classScore('f1'),
  z.strictObject({ kind: z.literal('rocAuc') }),
  z.strictObject({ kind: z.literal('confusionMatrix') }),
]);
export type MetricSpec = z.output<typeof metricSpecSchema>;
export type MetricKind = MetricSpec['kind'];
export type MetricSpecOf<K extends MetricKind> = Extract<MetricSpec, { kind: K }>;

/**
 * Metrics computed when a pipeline names none: accuracy and mean loss (what evaluation always reported) and macro
 * F1, which, unlike accuracy, shows a model that ignores rare classes.
 */
export const defaultMetricSpecs: readonly MetricSpec[] = [{ kind: 'accuracy', topK: 1 }, { kind: 'loss' }, { kind: 'f1', average: 'macro' }];

/** A list of metric specs; absent → a fresh copy of defaultMetricSpecs (structuredClone is not in the workflow sandbox). */
export const metricSpecListSchema = z.array(metricSpecSchema).default(() => defaultMetricSpecs.map((spec) => ({ ...spec })));
