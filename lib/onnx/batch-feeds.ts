/**
 * The feeding rule from a Batch to a model's inputs, shared by training and evaluation: `x` feeds the float32
 * input, `categorical` (widened to int64) the int64 one.
 */
import type { Batch } from '../data/batch.js';
import { widenToInt64 } from './int64.js';
import type { ModelDefinition } from './models/model.js';
import type { TensorData } from './session-protocol.js';

/** The model inputs a batch feeds: `x` to the float32 one, `categorical` (as int64) to the int64 one; at least one. */
export interface BatchInputs {
  /** The float32 input fed from `x`, with its non-batch dims and their product; absent → batches carry no features. */
  float?: { name: string; dims: number[]; features: number };
  /** The int64 input [B, categorical] fed from `categorical`. */
  ids?: { name: string; categorical: number };
}

/**
 * The feeding rule for training and evaluation from a Batch: at most one float32 input [B, ...fixed dims] (fed
 * from `x`) and at most one int64 input [B, n] (fed from `categorical`, n = categoricalCount), at least one of
 * them (a model with only the int64 input, such as the text classifier, takes batches of 0 features). Any other
 * input set is refused up front; `who` prefixes the message.
 */
export function batchInputs(def: Pick<ModelDefinition, 'architecture' | 'inputs'>, who = 'trainModel'): BatchInputs {
  const names = def.inputs.map((i) => `${i.name} (${i.dtype})`).join(', ');
  const refuse = (why: string): Error => new Error(
    `${who}: model ${def.architecture} has ${def.inputs.length} input${def.inputs.length === 1 ? '' : 's'} (${names}); ${why}`,
  );
  const floats = def.inputs.filter((i) => i.dtype === 'float32');
  const ints = def.inputs.filter((i) => i.dtype === 'int64');
  if (floats.length > 1 || ints.length > 1 || floats.length + ints.length !== def.inputs.length || def.inputs.length === 0) {
    throw refuse('batches feed one float32 input from x and at most one int64 input from categorical, or the int64 input alone');
  }
  const inputs: BatchInputs = {};
  if (floats.length === 1) {
    const { name, dtype, shape } = floats[0]!;
    const [batchDim, ...rest] = shape;
    const dims = rest.filter((d): d is number => typeof d === 'number' && Number.isInteger(d) && d > 0);
    if (batchDim !== 'B' || dims.length !== rest.length) {
      throw new Error(`${who}: model ${def.architecture} input '${name}' is ${dtype} [${shape.join(', ')}]; batches feed float32 [B, ...fixed dims]`);
    }
    inputs.float = { name, dims, features: dims.reduce((a, b) => a * b, 1) };
  }
  if (ints.length === 0) return inputs;
  const id = ints[0]!;
  const width = id.shape[1];
  if (id.shape.length !== 2 || id.shape[0] !== 'B' || typeof width !== 'number' || !Number.isInteger(width) || width < 1) {
    throw new Error(`${who}: model ${def.architecture} input '${id.name}' is int64 [${id.shape.join(', ')}]; batches feed int64 [B, categoricalCount]`);
  }
  inputs.ids = { name: id.name, categorical: width };
  return inputs;
}

/** Checks a batch's `x` and `categorical` against the inputs they feed; `bad` wraps the reason. */
export function checkBatchInputs(b: Batch, inputs: BatchInputs, bad: (why: string) => Error): void {
  const { float, ids } = inputs;
  const features = float?.features ?? 0;
  if (b.features !== features) {
    throw bad(float
      ? `${b.features} features, but model input '${float.name}' [B, ${float.dims.join(', ')}] takes ${float.features} per sample`
      : `${b.features} features, but the model has no float32 input (it takes categorical ids only)`);
  }
  if (b.x.length !== b.size * b.features) throw bad(`x has ${b.x.length} values for ${b.size}×${b.features}`);
  if (!ids) return;
  if (!b.categorical) {
    throw bad(`model input '${ids.name}' takes ${ids.categorical} categorical ids per sample, but the batch has no categorical ids (the dataset format has no categorical fields)`);
  }
  const count = b.categoricalCount ?? (b.size > 0 ? b.categorical.length / b.size : 0);
  if (count !== ids.categorical) {
    throw bad(`${count} categorical ids per sample, but model input '${ids.name}' [B, ${ids.categorical}] takes ${ids.categorical}`);
  }
  if (b.categorical.length !== b.size * count) throw bad(`categorical has ${b.categorical.length} values for ${b.size}×${count}`);
}

/** The input feeds of a checked batch: `x` reshaped, and `categorical` widened to int64 (a fresh buffer). */
export function inputFeeds(b: Batch, inputs: BatchInputs): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  if (inputs.float) feeds[inputs.float.name] = { type: 'float32', dims: [b.size, ...inputs.float.dims], data: b.x };
  if (inputs.ids) {
    feeds[inputs.ids.name] = { type: 'int64', dims: [b.size, inputs.ids.categorical], data: widenToInt64(b.categorical!) };
  }
  return feeds;
}
