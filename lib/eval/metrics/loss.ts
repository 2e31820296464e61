/**
 * Mean loss of the model's kind, as scikit-learn's `log_loss` on the probabilities: cross-entropy of the softmax
 * ('softmax-ce', via log-sum-exp) or binary cross-entropy of sigmoid(logit) ('bce-logits', via softplus). Computed
 * from the logits, so it stays finite and accurate where a probability would round to 0 or 1 (scikit-learn clips
 * probabilities to [ε, 1−ε] there instead). Each sample is added to one running float64 sum, so the result does not
 * depend on how the samples are split into batches.
 */
import type { MetricSpecOf } from '../../../policies/evaluation/metric-specs.js';
import type { Metric, MetricModel } from './metric.js';

export function createLoss(_spec: MetricSpecOf<'loss'>, model: MetricModel): Metric {
  const sampleLoss = model.loss === 'bce-logits' ? binaryCrossEntropy : crossEntropy;
  let count = 0;
  let sum = 0;
  return {
    name: 'loss',
    update(output, labels, rows, width) {
      for (let r = 0; r < rows; r++) sum += sampleLoss(output, r, width, labels[r]!);
      count += rows;
    },
    result: () => (count === 0 ? null : sum / count),
  };
}

/** log Σ exp(z) − z_label, shifted by the row's max so no exp overflows. */
function crossEntropy(output: Float32Array, row: number, width: number, label: number): number {
  const start = row * width;
  let max = -Infinity;
  for (let c = 0; c < width; c++) max = Math.max(max, output[start + c]!);
  let sumExp = 0;
  for (let c = 0; c < width; c++) sumExp += Math.exp(output[start + c]! - max);
  return Math.log(sumExp) - (output[start + label]! - max);
}

/** softplus(z) − y·z = −[y log σ(z) + (1 − y) log(1 − σ(z))], stable for large |z|. */
function binaryCrossEntropy(output: Float32Array, row: number, _width: number, label: number): number {
  const z = output[row]!;
  return Math.max(z, 0) - label * z + Math.log1p(Math.exp(-Math.abs(z)));
}
