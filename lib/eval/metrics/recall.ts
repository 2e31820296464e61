/** Recall tp / (tp + fn), averaged over classes as class-counts.ts describes (scikit-learn's recall_score). */
import type { MetricSpecOf } from '../../../policies/evaluation/metric-specs.js';
import { createClassScoreMetric, ratio } from './class-counts.js';
import type { Metric, MetricModel } from './metric.js';

export function createRecall(spec: MetricSpecOf<'recall'>, model: MetricModel): Metric {
  return createClassScoreMetric(spec, model, (truePositives, _predicted, actual) => ratio(truePositives, actual));
}
