/**
 * The contract every evaluation metric implements. A metric accumulates over batches of model outputs and finishes
 * to a small JSON value; each metric lives in its own file and is listed once in the registry (index.ts).
 *
 * Outputs are row-major `rows × width` float32 values, read according to the model's loss kind:
 * - 'softmax-ce': width = numClasses logits per row. The predicted class is the argmax (ties go to the lowest class
 *   index, as numpy's argmax); probabilities are the softmax of the row, computed in float64.
 * - 'bce-logits': width 1, one logit per row for a binary model (numClasses 2). The predicted class is 1 when the
 *   logit is > 0 (sigmoid(logit) > 0.5); the probability of class 1 is sigmoid(logit); ranking metrics use the
 *   logit itself as the score (sigmoid is monotonic, and the logit keeps every distinction float32 made).
 * Labels are class indexes 0..numClasses−1. Inputs reach a metric already checked by the MetricSet (index.ts).
 */
import type { LossKind } from '../../onnx/losses.js';

/** What a metric produces: a number (null where undefined, e.g. no samples) or a small structure such as a matrix. */
export type MetricResult = number | null | number[][];

/** The loss kinds whose outputs are class scores; 'mse' regression outputs have no classes to score. */
export type ClassifierLoss = Exclude<LossKind, 'mse'>;

/** The model whose outputs a metric reads. */
export interface MetricModel {
  /** Number of classes C: the width of a 'softmax-ce' output; 2 for 'bce-logits'. */
  numClasses: number;
  loss: ClassifierLoss;
}

export interface Metric {
  /** Key of the result, derived from the spec: 'accuracy', 'top5Accuracy', 'f1Macro', 'rocAuc', … */
  readonly name: string;
  /** Adds one batch: `output` holds rows × width values, `labels` one class index per row. */
  update(output: Float32Array, labels: ArrayLike<number>, rows: number, width: number): void;
  result(): MetricResult;
}
