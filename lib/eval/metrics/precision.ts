/** Precision tp / (tp + fp), averaged over classes as class-counts.ts describes (scikit-learn's precision_score). */
import type { z } from 'zod';
import { classScoreSpec, createClassScoreMetric, ratio } from './class-counts.js';
import type { Metric, MetricModel } from './metric.js';

export const precisionSpec = classScoreSpec('precision');

export function createPrecision(spec: z.output<typeof precisionSpec>, model: MetricModel): Metric {
  return createClassScoreMetric(spec, model, (truePositives, predicted) => ratio(truePositives, predicted));
}
