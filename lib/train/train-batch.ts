/** A Batch as the train step takes it: the model's inputs, labels `y` and sample weights `w`. */
import type { Batch } from '../data/batch.js';
import { checkBatchInputs, inputFeeds, type BatchInputs } from '../onnx/batch-feeds.js';
import { widenToInt64 } from '../onnx/int64.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import type { TensorData } from '../onnx/session-host.js';

/** Checks inputs, lengths and labels against the model; `what` names the batch in the message. */
export function checkTrainBatch(b: Batch, def: ModelDefinition, inputs: BatchInputs, what: string): void {
  const bad = (why: string): Error => new Error(`${what}: ${why}`);
  checkBatchInputs(b, inputs, bad);
  if (b.y.length !== b.size || b.w.length !== b.size) throw bad(`y/w lengths ${b.y.length}/${b.w.length} for size ${b.size}`);
  if (def.loss === 'softmax-ce') {
    for (const label of b.y) if (label < 0 || label >= def.outputSize) throw bad(`label ${label} outside [0, ${def.outputSize})`);
  } else if (def.loss === 'bce-logits') {
    for (const label of b.y) if (label !== 0 && label !== 1) throw bad(`label ${label} is not a binary target 0 or 1 (bce-logits)`);
  }
}

/** The inputs fed from `x` and `categorical`; `y` as int64 class indices for softmax-ce, else as float32 targets. */
export function trainBatchFeeds(b: Batch, def: ModelDefinition, inputs: BatchInputs): Record<string, TensorData> {
  let y: TensorData;
  if (def.loss === 'softmax-ce') {
    y = { type: 'int64', dims: [b.size], data: widenToInt64(b.y) };
  } else {
    y = { type: 'float32', dims: [b.size], data: Float32Array.from(b.y) };
  }
  return {
    ...inputFeeds(b, inputs),
    y,
    w: { type: 'float32', dims: [b.size], data: b.w },
  };
}
