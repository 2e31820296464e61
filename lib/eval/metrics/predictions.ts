/** How the metrics read one row of model outputs (conventions in metric.ts). */
import type { ClassifierLoss } from './metric.js';

/** The predicted class of row `row`: argmax of the logits (lowest index on ties), or logit > 0 for a binary model. */
export function predictedClass(output: Float32Array, row: number, width: number, loss: ClassifierLoss): number {
  const start = row * width;
  if (loss === 'bce-logits') return output[start]! > 0 ? 1 : 0;
  let best = 0;
  for (let c = 1; c < width; c++) if (output[start + c]! > output[start + best]!) best = c;
  return best;
}

