/**
 * F1, the harmonic mean of precision and recall, 2·tp / (2·tp + fp + fn) per class, averaged over classes as
 * class-counts.ts describes (scikit-learn's f1_score; 'macro' averages the per-class F1s, not F1 of the averages).
 */
import type { z } from 'zod';
import { classScoreSpec, createClassScoreMetric, ratio } from './class-counts.js';
import type { Metric, MetricModel } from './metric.js';

export const f1Spec = classScoreSpec('f1');

export function createF1(spec: z.output<typeof f1Spec>, model: MetricModel): Metric {
  // 2·tp + fp + fn = predicted + actual.
  return createClassScoreMetric(spec, model, (truePositives, predicted, actual) => ratio(2 * truePositives, predicted + actual));
}
