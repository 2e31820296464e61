/** Precision tp / (tp + fp), averaged over classes as class-counts.ts describes (scikit-learn's precision_score). */
import type { MetricSpecOf } from '../../../policies/evaluation/metric-specs.js';
import { createClassScoreMetric, ratio } from './class-counts.js';
import type { Metric, MetricModel } from './metric.js';

export function createPrecision(spec: MetricSpecOf<'precision'>, model: MetricModel): Metric {
  return createClassScoreMetric(spec, model, (truePositives, predicted) => ratio(truePositives, predicted));
}
