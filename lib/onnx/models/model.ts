/**
 * What an architecture provides: its inputs, loss and forward pass. Graphs are derived from it by build.ts,
 * except for a user's own graphs, which come whole (`supplied`, see imported.ts).
 */
import type { Tape } from '../autodiff/tape.js';
import type { LossKind } from '../losses.js';
import type { OptimizerConfig } from '../optimizers.js';
import type { ParamSpec } from '../params.js';

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
  /** Emits the forward pass on the tape; `inputs` maps each ModelInput name to its value. Absent when `supplied`. */
  forward?(t: Tape, inputs: Record<string, string>): ForwardResult;
  /** Graphs given whole instead of derived from `forward`. */
  supplied?: SuppliedGraphs;
}

/** A user's train-step and inference graphs, checked against the contract (lib/onnx/contract). */
export interface SuppliedGraphs {
  /** Parameters and buffers of the train step, in its input order, each with its initial value (`init: 'given'`). */
  params: ParamSpec[];
  buffers: ParamSpec[];
  /** The train-step graph; throws naming its file when it does not follow the contract for `opt`. */
  trainStep(opt: OptimizerConfig): Uint8Array;
  /** The inference graph with `weights` (parameters and buffers by name) substituted for its initializers. */
  inference(weights: Record<string, Float32Array>): Uint8Array;
}
