/** Recall tp / (tp + fn), averaged over classes as class-counts.ts describes (scikit-learn's recall_score). */
import type { z } from 'zod';
import { classScoreSpec, createClassScoreMetric, ratio } from './class-counts.js';
import type { Metric, MetricModel } from './metric.js';

export const recallSpec = classScoreSpec('recall');

export function createRecall(spec: z.output<typeof recallSpec>, model: MetricModel): Metric {
  return createClassScoreMetric(spec, model, (truePositives, _predicted, actual) => ratio(truePositives, actual));
}
