/**
 * The C × C confusion matrix as number[][]: entry [i][j] counts samples with true label i predicted as class j
 * (rows = true labels, columns = predictions, scikit-learn's `confusion_matrix` with labels 0..C−1). All zeros
 * before any sample.
 */
import type { MetricSpecOf } from '../../../policies/evaluation/metric-specs.js';
import type { Metric, MetricModel } from './metric.js';
import { predictedClass } from './predictions.js';

export function createConfusionMatrix(_spec: MetricSpecOf<'confusionMatrix'>, model: MetricModel): Metric {
  const classes = model.numClasses;
  const counts = new Float64Array(classes * classes);
  return {
    name: 'confusionMatrix',
    update(output, labels, rows, width) {
      for (let r = 0; r < rows; r++) counts[labels[r]! * classes + predictedClass(output, r, width, model.loss)]!++;
    },
    result: () => Array.from({ length: classes }, (_, i) => Array.from(counts.subarray(i * classes, (i + 1) * classes))),
  };
}
