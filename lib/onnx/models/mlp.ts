/**
 * MLP classifier: Linear → ReLU (→ Dropout) per hidden layer, then a Linear head; layers are named fc1..fcN.
 * The embedding is the last hidden activation (before dropout), or the input when there are no hidden layers.
 */
import { relu } from '../layers/activations.js';
import { dropout } from '../layers/dropout.js';
import { linear } from '../layers/linear.js';
import { standardize } from '../layers/standardize.js';
import type { ModelDefinition } from './model.js';

export interface MlpConfig {
  inputSize: number;
  hidden: number[];
  numClasses: number;
  /** Dropout probability after each hidden activation; default 0. */
  dropout?: number;
  /** Standardize the features first (layers/standardize.ts). */
  standardize?: boolean;
}

export function mlpModel(cfg: MlpConfig): ModelDefinition {
  return {
    architecture: 'mlp',
    inputs: [{ name: 'x', dtype: 'float32', shape: ['B', cfg.inputSize] }],
    loss: 'softmax-ce',
    outputSize: cfg.numClasses,
    forward(t, { x }) {
      const input = cfg.standardize ? standardize(t, x!) : x!;
      let embedding = input;
      let h = input;
      cfg.hidden.forEach((width, i) => {
        embedding = relu(t, linear(t, `fc${i + 1}`, h, width));
        h = dropout(t, `fc${i + 1}.dropout`, embedding, cfg.dropout ?? 0);
      });
      const output = linear(t, `fc${cfg.hidden.length + 1}`, h, cfg.numClasses);
      return { output, embedding, embeddingSize: cfg.hidden.at(-1) ?? cfg.inputSize };
    },
  };
}
