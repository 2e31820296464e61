/**
 * A model's training memory, estimated without building or running it: from the parameter declarations and
 * the static shapes its forward pass records on a tape.
 */
import { Tape } from '../onnx/autodiff/tape.js';
import { GraphBuilder } from '../onnx/graph.js';
import { modelParameters } from '../onnx/models/build.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import { optimizerStateNames, type OptimizerConfig } from '../onnx/optimizers.js';
import { paramSize, type ParamSpec } from '../onnx/params.js';
import type { Dim } from '../onnx/proto.js';

const FLOAT_BYTES = 4;

export interface Footprint {
  /** Trainable values, host-held embedding tables included. */
  parameters: number;
  /** Parameters, buffers and optimizer state, as float32. */
  stateBytes: number;
  /**
   * Rough activation memory of one train step at the batch size: every per-sample value the forward pass
   * records, kept for the backward pass, and its gradient. Zero for a user's own graphs, whose shapes are not traced.
   */
  activationBytes: number;
}

/** A tape that also sums the per-sample size of every value with a static shape after the batch dim. */
class SizingTape extends Tape {
  readonly perSample = new Map<string, number>();

  override setShape(value: string, shape: Dim[]): string {
    const [batch, ...rest] = shape;
    if (batch === 'B' && rest.every((d): d is number => typeof d === 'number')) this.perSample.set(value, rest.reduce((a, b) => a * b, 1));
    return super.setShape(value, shape);
  }
}

export function trainingFootprint(def: ModelDefinition, optimizer: OptimizerConfig, batchSize: number): Footprint {
  let params: ParamSpec[];
  let buffers: ParamSpec[];
  let perSample = 0;
  if (def.forward) {
    const t = new SizingTape(new GraphBuilder(def.architecture), { training: true, params: { kind: 'inputs' } });
    const inputs = Object.fromEntries(def.inputs.map((i) => [i.name, t.setShape(t.g.input(i.name, i.dtype, i.shape), i.shape)]));
    def.forward(t, inputs);
    ({ params, buffers } = t);
    for (const size of t.perSample.values()) perSample += size;
  } else {
    ({ params, buffers } = modelParameters(def));
  }
  const count = (specs: ParamSpec[]) => specs.reduce((sum, s) => sum + paramSize(s), 0);
  const parameters = count(params);
  const optimizerValues = params.reduce((sum, s) => sum + paramSize(s) * optimizerStateNames(s.name, optimizer).length, 0);
  return {
    parameters,
    stateBytes: FLOAT_BYTES * (parameters + count(buffers) + optimizerValues),
    activationBytes: 2 * FLOAT_BYTES * batchSize * perSample,
  };
}
