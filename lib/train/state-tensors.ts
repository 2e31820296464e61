/** A ModelState as the tensors a SessionHost stores by name (parameters, buffers, optimizer state), and back. */
import { optimizerStateNames, type OptimizerConfig } from '../onnx/optimizers.js';
import type { ParamSpec } from '../onnx/params.js';
import type { Feed, TensorData } from '../onnx/session-host.js';
import type { ModelState } from './model-state.js';

export interface StateNames {
  params: string[];
  buffers: string[];
  optimizer: string[];
}

export function stateNames(params: ParamSpec[], buffers: ParamSpec[], opt: OptimizerConfig): StateNames {
  return {
    params: params.map((s) => s.name),
    buffers: buffers.map((s) => s.name),
    optimizer: params.flatMap((s) => optimizerStateNames(s.name, opt)),
  };
}

export function toTensors(state: ModelState, params: ParamSpec[], buffers: ParamSpec[], opt: OptimizerConfig): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  const add = (name: string, dims: number[], data: Float32Array) => { out[name] = { type: 'float32', dims, data }; };
  for (const s of params) {
    add(s.name, s.shape, state.params[s.name]!);
    for (const n of optimizerStateNames(s.name, opt)) add(n, s.shape, state.optimizer[n]!);
  }
  for (const s of buffers) add(s.name, s.shape, state.buffers[s.name]!);
  return out;
}

export function fromTensors(t: Record<string, TensorData>, names: StateNames, step: number, rngSeed: number): ModelState {
  const pick = (group: string[]) => Object.fromEntries(group.map((n) => [n, t[n]!.data as Float32Array]));
  return { params: pick(names.params), buffers: pick(names.buffers), optimizer: pick(names.optimizer), step, rngSeed };
}

/** Feeds of the stored tensors `names`, each to the graph input of the same name. */
export function storedFeeds(names: string[]): Record<string, Feed> {
  return Object.fromEntries(names.map((n) => [n, { stored: n }]));
}
