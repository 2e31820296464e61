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
 *
 * Each batch's scores are sorted as it arrives, members and non-members of each scored class apart, so the sorting
 * overlaps the next batch's inference; the result merges the sorted runs. Keeps one float64 score per sample and
 * scored class, as exactness needs.
 */
import type { MetricSpecOf } from '../../../policies/evaluation/metric-specs.js';
import type { Metric, MetricModel } from './metric.js';

export function createRocAuc(_spec: MetricSpecOf<'rocAuc'>, model: MetricModel): Metric {
  // The scored classes: class 1 of a binary model, every class one-vs-rest otherwise.
  const classes = model.loss === 'bce-logits' || model.numClasses === 2 ? [1] : Array.from({ length: model.numClasses }, (_, c) => c);
  const members = classes.map(() => new SortedRuns());
  const others = classes.map(() => new SortedRuns());
  let finite = true;
  return {
    name: 'rocAuc',
    update(output, labels, rows, width) {
      for (let i = 0; i < rows * width && finite; i++) finite = Number.isFinite(output[i]!);
      if (!finite) return;
      const scores = model.loss === 'bce-logits' ? [Float64Array.from(output.subarray(0, rows))] : softmaxColumns(output, rows, width, classes);
      const counts = new Int32Array(model.numClasses);
      for (let r = 0; r < rows; r++) counts[labels[r]!]!++;
      classes.forEach((c, k) => {
        const column = scores[k]!;
        const count = counts[c]!;
        const positive = new Float64Array(count);
        const negative = new Float64Array(rows - count);
        for (let r = 0, p = 0, n = 0; r < rows; r++) {
          if (labels[r] === c) positive[p++] = column[r]!;
          else negative[n++] = column[r]!;
        }
        members[k]!.add(positive.sort());
        others[k]!.add(negative.sort());
      });
    },
    result() {
      if (!finite || members[0]!.length + others[0]!.length === 0) return null;
      let total = 0;
      for (let k = 0; k < classes.length; k++) {
        const auc = sortedAuc(members[k]!.merged(), others[k]!.merged());
        if (auc === null) return null;
        total += auc;
      }
      return total / classes.length;
    },
  };
}

/** The softmax probability of each of `classes` for rows × width logits, a float64 column per class. */
function softmaxColumns(logits: Float32Array, rows: number, width: number, classes: number[]): Float64Array[] {
  const columns = classes.map(() => new Float64Array(rows));
  const exps = new Float64Array(width);
  for (let r = 0; r < rows; r++) {
    const start = r * width;
    let max = -Infinity;
    for (let c = 0; c < width; c++) max = Math.max(max, logits[start + c]!);
    let sum = 0;
    for (let c = 0; c < width; c++) sum += exps[c] = Math.exp(logits[start + c]! - max);
    for (let k = 0; k < classes.length; k++) columns[k]![r] = exps[classes[k]!]! / sum;
  }
  return columns;
}

/** Ascending runs of scores, merged into one ascending array on demand. */
class SortedRuns {
  private runs: Float64Array[] = [];
  length = 0;

  add(run: Float64Array): void {
    if (run.length === 0) return;
    this.runs.push(run);
    this.length += run.length;
  }

  /** All scores in ascending order; merges pairwise, so each score moves log2(runs) times. */
  merged(): Float64Array {
    if (this.runs.length === 0) return new Float64Array(0);
    while (this.runs.length > 1) {
      const next: Float64Array[] = [];
      for (let i = 0; i < this.runs.length; i += 2) next.push(i + 1 < this.runs.length ? merge(this.runs[i]!, this.runs[i + 1]!) : this.runs[i]!);
      this.runs = next;
    }
    return this.runs[0]!;
  }
}

function merge(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < a.length && j < b.length) out[o++] = a[i]! <= b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) out[o++] = a[i++]!;
  while (j < b.length) out[o++] = b[j++]!;
  return out;
}

/**
 * AUC of ascending `positives` against ascending `negatives`; null when either is empty. For every positive, counts
 * the negatives scored below it plus half of those scored equal (the trapezoid over a tied threshold). U is a sum of
 * half-integers below 2^53, so exact.
 */
function sortedAuc(positives: Float64Array, negatives: Float64Array): number | null {
  if (positives.length === 0 || negatives.length === 0) return null;
  let u = 0;
  let below = 0; // negatives scored < the current positive
  let belowOrEqual = 0; // negatives scored <= it
  for (const score of positives) {
    while (below < negatives.length && negatives[below]! < score) below++;
    if (belowOrEqual < below) belowOrEqual = below;
    while (belowOrEqual < negatives.length && negatives[belowOrEqual]! <= score) belowOrEqual++;
    u += (below + belowOrEqual) / 2;
  }
  return u / (positives.length * negatives.length);
}
