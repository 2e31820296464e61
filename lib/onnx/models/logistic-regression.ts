/**
 * Logistic regression: one linear layer `fc`. By default multinomial, trained with softmax cross-entropy; two
 * classes then also use a 2-way softmax, so every classifier shares the loss and the `output` layout. With
 * `loss: 'bce-logits'` it is the binary model instead: one logit (`output` [B, 1]) for class 1, labels 0/1.
 * The embedding is the input itself.
 */
import { linear } from '../layers/linear.js';
import { standardize } from '../layers/standardize.js';
import type { ModelDefinition } from './model.js';

export interface LogisticRegressionConfig {
  inputSize: number;
  numClasses: number;
  /** Default 'softmax-ce'. 'bce-logits' needs numClasses 2 and gives outputSize 1. */
  loss?: 'softmax-ce' | 'bce-logits';
  /** Standardize the features first (layers/standardize.ts). */
  standardize?: boolean;
}

export function logisticRegressionModel(cfg: LogisticRegressionConfig): ModelDefinition {
  const loss = cfg.loss ?? 'softmax-ce';
  if (loss === 'bce-logits' && cfg.numClasses !== 2) {
    throw new Error(`logistic regression: bce-logits is binary, numClasses must be 2, got ${cfg.numClasses}`);
  }
  const outputSize = loss === 'bce-logits' ? 1 : cfg.numClasses;
  return {
    architecture: 'logistic-regression',
    inputs: [{ name: 'x', dtype: 'float32', shape: ['B', cfg.inputSize] }],
    loss,
    outputSize,
    forward: (t, { x }) => {
      const input = cfg.standardize ? standardize(t, x!) : x!;
      return { output: linear(t, 'fc', input, outputSize), embedding: input, embeddingSize: cfg.inputSize };
    },
  };
}
