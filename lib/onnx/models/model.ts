/** What an architecture provides: its inputs, loss and forward pass. Graphs are derived from it by build.ts. */
import type { Tape } from '../autodiff/tape.js';
import type { LossKind } from '../losses.js';

export type { LossKind } from '../losses.js';

export interface ModelInput {
  name: string;
  dtype: 'float32' | 'int64';
  /** 'B' is the batch dim, e.g. ['B', 784] or ['B', 3, 32, 32]. */
  shape: (number | string)[];
}

export interface ForwardResult {
  /** [B, outputSize]. */
  output: string;
  /** [B, embeddingSize]: the penultimate representation (drift detection, coresets). */
  embedding: string;
  embeddingSize: number;
}

export interface ModelDefinition {
  architecture: string;
  inputs: ModelInput[];
  loss: LossKind;
  /** Classes for softmax-ce; 1 for bce-logits and mse (the target is a float). */
  outputSize: number;
  /** Emits the forward pass on the tape; `inputs` maps each ModelInput name to its value. */
  forward(t: Tape, inputs: Record<string, string>): ForwardResult;
}
