/**
 * Multinomial logistic regression: one linear layer `fc` trained with softmax cross-entropy. Two classes also
 * use a 2-way softmax (not a single BCE logit) so every classifier shares the loss and the `output` layout.
 * The embedding is the input itself.
 */
import { linear } from '../layers/linear.js';
import type { ModelDefinition } from './model.js';

export interface LogisticRegressionConfig { inputSize: number; numClasses: number }

export function logisticRegressionModel(cfg: LogisticRegressionConfig): ModelDefinition {
  return {
    architecture: 'logistic-regression',
    inputs: [{ name: 'x', dtype: 'float32', shape: ['B', cfg.inputSize] }],
    loss: 'softmax-ce',
    outputSize: cfg.numClasses,
    forward: (t, { x }) => ({ output: linear(t, 'fc', x!, cfg.numClasses), embedding: x!, embeddingSize: cfg.inputSize }),
  };
}
