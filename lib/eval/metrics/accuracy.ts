/**
 * Top-k accuracy: the fraction of samples whose label is among the k highest-scoring classes (k = 1: plain
 * accuracy; scikit-learn's `accuracy_score` on the predictions, `top_k_accuracy_score` for k > 1).
 *
 * Ties: a label ranks after every class with a higher score and every class with an equal score and a lower index,
 * so top-1 agrees with the predicted class (argmax, lowest index on ties). scikit-learn's top_k_accuracy_score
 * orders equal scores the other way (a stable ascending sort, so the highest index wins), which is why the fixtures
 * avoid ties. For a 'bce-logits' model, top-1 compares logit > 0 with the label and k ≥ 2 counts every sample (two
 * classes), as scikit-learn does; likewise k ≥ numClasses always gives 1.
 */
import type { MetricSpecOf } from '../../../policies/evaluation/metric-specs.js';
import type { Metric, MetricModel } from './metric.js';
import { predictedClass } from './predictions.js';

export function createAccuracy(spec: MetricSpecOf<'accuracy'>, model: MetricModel): Metric {
  const { topK } = spec;
  let count = 0;
  let hits = 0;
  return {
    name: topK === 1 ? 'accuracy' : `top${topK}Accuracy`,
    update(output, labels, rows, width) {
      for (let r = 0; r < rows; r++) {
        const label = labels[r]!;
        if (topK >= model.numClasses) hits++;
        else if (topK === 1) hits += predictedClass(output, r, width, model.loss) === label ? 1 : 0;
        else hits += labelRank(output, r, width, label) < topK ? 1 : 0;
      }
      count += rows;
    },
    result: () => (count === 0 ? null : hits / count),
  };
}

/** 0-based rank of the label's score in its row under the tie rule above. */
function labelRank(output: Float32Array, row: number, width: number, label: number): number {
  const start = row * width;
  const score = output[start + label]!;
  let rank = 0;
  for (let c = 0; c < width; c++) {
    const other = output[start + c]!;
    if (other > score || (other === score && c < label)) rank++;
  }
  return rank;
}
