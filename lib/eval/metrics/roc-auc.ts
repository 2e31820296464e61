/**
 * Exact ROC-AUC, as scikit-learn's `roc_auc_score`: the area under the ROC curve over the distinct score thresholds
 * (trapezoids, so tied scores count half), which equals the Mann–Whitney statistic U / (positives · negatives)
 * computed here from sorted scores with integer counts.
 * - 'bce-logits': binary AUC of the logit (ranking by the logit is ranking by sigmoid(logit)).
 * - 'softmax-ce' with 2 classes: binary AUC of the softmax probability of class 1.
 * - 'softmax-ce' with more classes: one-vs-rest macro average of each class's softmax probability against
 *   membership of that class (`multi_class='ovr', average='macro'`).
 * Probabilities are float64, exp(z − max) / Σ exp(z − max) per row, so equal rows tie exactly.
 * Undefined, null: before any sample, when a class is absent from the labels (scikit-learn rejects or returns NaN:
 * a one-vs-rest curve needs both members and non-members), or when an output was NaN or infinite (scikit-learn
 * rejects non-finite scores).
 * Keeps every output row and label: O(samples × width) float32 and int32 values, as exactness needs.
 */
import type { MetricSpecOf } from '../../../policies/evaluation/metric-specs.js';
import { GrowableArray } from './growable-array.js';
import type { Metric, MetricModel } from './metric.js';

export function createRocAuc(_spec: MetricSpecOf<'rocAuc'>, model: MetricModel): Metric {
  const outputs = new GrowableArray((n) => new Float32Array(n));
  const labels = new GrowableArray((n) => new Int32Array(n));
  let finite = true;
  let width = 1;
  return {
    name: 'rocAuc',
    update(output, batchLabels, rows, batchWidth) {
      width = batchWidth;
      const values = rows * batchWidth;
      for (let i = 0; i < values && finite; i++) finite = Number.isFinite(output[i]!);
      outputs.append(output, values);
      labels.append(batchLabels, rows);
    },
    result() {
      if (labels.length === 0 || !finite) return null;
      const z = outputs.values();
      const y = labels.values();
      if (model.loss === 'bce-logits') return binaryAuc(Float64Array.from(z), y, 1);
      const probabilities = new SoftmaxColumns(z, width, y.length);
      if (model.numClasses === 2) return binaryAuc(probabilities.column(1), y, 1);
      let total = 0;
      for (let c = 0; c < model.numClasses; c++) {
        const auc = binaryAuc(probabilities.column(c), y, c);
        if (auc === null) return null;
        total += auc;
      }
      return total / model.numClasses;
    },
  };
}

/** Softmax probabilities of row-major logits, one class column at a time to hold O(rows) float64 values. */
class SoftmaxColumns {
  private readonly rowMax: Float64Array;
  private readonly rowSum: Float64Array;

  constructor(private readonly logits: Float32Array, private readonly width: number, private readonly rows: number) {
    this.rowMax = new Float64Array(rows);
    this.rowSum = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let max = -Infinity;
      for (let c = 0; c < width; c++) max = Math.max(max, logits[r * width + c]!);
      let sum = 0;
      for (let c = 0; c < width; c++) sum += Math.exp(logits[r * width + c]! - max);
      this.rowMax[r] = max;
      this.rowSum[r] = sum;
    }
  }

  column(c: number): Float64Array {
    const p = new Float64Array(this.rows);
    for (let r = 0; r < this.rows; r++) p[r] = Math.exp(this.logits[r * this.width + c]! - this.rowMax[r]!) / this.rowSum[r]!;
    return p;
  }
}

/**
 * AUC of `scores` for samples labelled `positive` against all others; null when either group is empty. Sorts each
 * group and counts, for every positive, the negatives scored below it plus half of those scored equal (the
 * trapezoid over a tied threshold). U is a sum of half-integers below 2^53, so exact.
 */
function binaryAuc(scores: Float64Array, labels: Int32Array, positive: number): number | null {
  let positives = 0;
  for (const label of labels) if (label === positive) positives++;
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return null;
  const positiveScores = new Float64Array(positives);
  const negativeScores = new Float64Array(negatives);
  for (let i = 0, p = 0, n = 0; i < labels.length; i++) {
    if (labels[i] === positive) positiveScores[p++] = scores[i]!;
    else negativeScores[n++] = scores[i]!;
  }
  positiveScores.sort();
  negativeScores.sort();
  let u = 0;
  let below = 0; // negatives scored < the current positive
  let belowOrEqual = 0; // negatives scored <= it
  for (const score of positiveScores) {
    while (below < negatives && negativeScores[below]! < score) below++;
    if (belowOrEqual < below) belowOrEqual = below;
    while (belowOrEqual < negatives && negativeScores[belowOrEqual]! <= score) belowOrEqual++;
    u += (below + belowOrEqual) / 2;
  }
  return u / (positives * negatives);
}
