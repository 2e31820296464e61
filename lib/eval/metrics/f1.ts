/**
 * F1, the harmonic mean of precision and recall, 2·tp / (2·tp + fp + fn) per class, averaged over classes as
 * class-counts.ts describes (scikit-learn's f1_score; 'macro' averages the per-class F1s, not F1 of the averages).
 */
import type { MetricSpecOf } from '../../../policies/evaluation/metric-specs.js';
import { createClassScoreMetric, ratio } from './class-counts.js';
import type { Metric, MetricModel } from './metric.js';

export function createF1(spec: MetricSpecOf<'f1'>, model: MetricModel): Metric {
  // 2·tp + fp + fn = predicted + actual.
  return createClassScoreMetric(spec, model, (truePositives, predicted, actual) => ratio(2 * truePositives, predicted + actual));
}
