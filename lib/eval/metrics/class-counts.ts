/**
 * Per-class counts behind precision, recall and F1, and scikit-learn's ways of averaging them. O(classes) state.
 *
 * Conventions (scikit-learn's `precision_score` / `recall_score` / `f1_score` with `labels = 0..C−1`):
 * - every class 0..C−1 takes part, including classes absent from both labels and predictions, so 'macro' averages
 *   over all C classes and an absent class contributes 0;
 * - zero_division = 0: a ratio whose denominator is 0 is 0 (scikit-learn's default value, without its warning);
 * - F1 of a class is 2·tp / (2·tp + fp + fn), as scikit-learn ≥ 1.3 computes it, so it is 0 when tp is 0;
 * - 'binary' scores class 1 alone and needs numClasses 2; 'micro' pools the counts of all classes (equal to
 *   accuracy, since every prediction is one of the classes); 'weighted' weights each class by its support.
 */
import type { Average } from '../../../policies/evaluation/metric-specs.js';
import type { Metric, MetricModel } from './metric.js';
import { predictedClass } from './predictions.js';

/** The spec of a per-class score (precision, recall, f1): its kind and how to average over classes. */
interface ClassScoreSpec {
  kind: 'precision' | 'recall' | 'f1';
  average: Average;
}

/** Score of one class (or of pooled counts) from its true positives, predictions and actual members. */
type ClassScore = (truePositives: number, predicted: number, actual: number) => number;

/** ratio with scikit-learn's zero_division = 0. */
export function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

/** A metric of per-class `score`s averaged as its spec says. */
export function createClassScoreMetric(spec: ClassScoreSpec, model: MetricModel, score: ClassScore): Metric {
  if (spec.average === 'binary' && model.numClasses !== 2) {
    throw new Error(`metrics: ${spec.kind} with average 'binary' needs a binary model (2 classes); this one has ${model.numClasses}`);
  }
  const counts = new ClassCounts(model);
  return {
    name: spec.kind + spec.average[0]!.toUpperCase() + spec.average.slice(1),
    update: (output, labels, rows, width) => counts.update(output, labels, rows, width),
    result: () => counts.average(score, spec.average),
  };
}

class ClassCounts {
  readonly truePositives: Float64Array;
  /** Samples predicted as each class (tp + fp). */
  readonly predicted: Float64Array;
  /** Samples labelled as each class, its support (tp + fn). */
  readonly actual: Float64Array;
  count = 0;

  constructor(private readonly model: MetricModel) {
    this.truePositives = new Float64Array(model.numClasses);
    this.predicted = new Float64Array(model.numClasses);
    this.actual = new Float64Array(model.numClasses);
  }

  update(output: Float32Array, labels: ArrayLike<number>, rows: number, width: number): void {
    for (let r = 0; r < rows; r++) {
      const label = labels[r]!;
      const predicted = predictedClass(output, r, width, this.model.loss);
      this.predicted[predicted]!++;
      this.actual[label]!++;
      if (predicted === label) this.truePositives[label]!++;
    }
    this.count += rows;
  }

  /** The averaged score; null before any sample. */
  average(score: ClassScore, average: Average): number | null {
    if (this.count === 0) return null;
    const { truePositives: tp, predicted, actual } = this;
    const classes = tp.length;
    switch (average) {
      case 'binary':
        return score(tp[1]!, predicted[1]!, actual[1]!);
      case 'micro':
        return score(sum(tp), sum(predicted), sum(actual));
      case 'macro': {
        let total = 0;
        for (let c = 0; c < classes; c++) total += score(tp[c]!, predicted[c]!, actual[c]!);
        return total / classes;
      }
      case 'weighted': {
        let total = 0;
        for (let c = 0; c < classes; c++) total += actual[c]! * score(tp[c]!, predicted[c]!, actual[c]!);
        return ratio(total, this.count);
      }
    }
  }
}

function sum(values: Float64Array): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

