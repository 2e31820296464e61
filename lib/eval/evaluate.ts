/**
 * Evaluation of an exported inference model (output `output`) over batches, in a SessionHost worker.
 * Accuracy and loss are computed here from `output` according to the model's loss kind, so any export works
 * unchanged: a classifier's logits (softmax-ce), a binary classifier's single logit (bce-logits) or a
 * regression prediction (mse).
 */
import type { Batch } from '../data/batch.js';
import { batchInputs, checkBatchInputs, inputFeeds, type BatchInputs } from '../onnx/batch-feeds.js';
import type { LossKind } from '../onnx/losses.js';
import type { ModelInput } from '../onnx/models/model.js';
import { SessionHost, type SessionHostOptions, type TensorData } from '../onnx/session-host.js';

export interface EvalOptions extends SessionHostOptions {
  /**
   * Non-batch dims of the model input, e.g. [3, 32, 32]: each batch's `x` is fed as [size, ...inputShape], so
   * `features` must equal their product. Default [features] (flat input).
   */
  inputShape?: number[];
  /**
   * The ModelDefinition's inputs, fed as trainModel feeds them: `x` to the float32 input (whose dims replace
   * inputShape) and `categorical` (as int64) to the int64 input [B, categoricalCount], if any. Needed for
   * models with more than one input; default: the session's only input, fed from `x`.
   */
  inputs?: ModelInput[];
  /** How `output` and the labels are scored; the ModelDefinition's `loss`. Default 'softmax-ce'. */
  loss?: LossKind;
}

export interface EvalResult {
  count: number;
  /**
   * Fraction of samples classified correctly, in [0, 1]: argmax of the logits for 'softmax-ce', `output > 0`
   * (predicting class 1) for 'bce-logits'. Always 0 for 'mse', which is not a classifier. 0 when count is 0.
   */
  accuracy: number;
  /**
   * Mean unweighted loss of the kind: cross-entropy ('softmax-ce'), binary cross-entropy of the logit
   * ('bce-logits') or squared error (o − y)² ('mse'). 0 when count is 0.
   */
  loss: number;
}

/** Batches posted ahead of the one whose output is being scored. */
const MAX_IN_FLIGHT = 2;

/** Per-sample scoring of `output` rows against labels: adds to `acc`. */
type Scorer = (row: Float32Array, label: number, acc: { correct: number; lossSum: number }) => void;

const scorers: Record<LossKind, Scorer> = {
  'softmax-ce': (row, label, acc) => {
    const classes = row.length;
    if (label < 0 || label >= classes) throw new Error(`evaluateModel: label ${label} outside [0, ${classes})`);
    let argmax = 0;
    for (let c = 1; c < classes; c++) if (row[c]! > row[argmax]!) argmax = c;
    let sumExp = 0;
    for (let c = 0; c < classes; c++) sumExp += Math.exp(row[c]! - row[argmax]!);
    acc.lossSum += Math.log(sumExp) - (row[label]! - row[argmax]!);
    if (argmax === label) acc.correct++;
  },
  'bce-logits': (row, label, acc) => {
    if (label !== 0 && label !== 1) throw new Error(`evaluateModel: label ${label} is not a binary target 0 or 1 (bce-logits)`);
    const z = row[0]!;
    // softplus(z) − y·z, stable for large |z| (as the training loss).
    acc.lossSum += Math.max(z, 0) - label * z + Math.log1p(Math.exp(-Math.abs(z)));
    if ((z > 0 ? 1 : 0) === label) acc.correct++;
  },
  mse: (row, label, acc) => {
    const d = row[0]! - label;
    acc.lossSum += d * d;
  },
};

/**
 * Batch arrays that own their whole buffer are transferred to the worker and left detached. `options` also pick
 * the execution provider (default CPU; CUDA falls back to it with one warning).
 */
export async function evaluateModel(onnxBytes: Uint8Array, batches: AsyncIterable<Batch>, options: EvalOptions = {}): Promise<EvalResult> {
  const { inputShape, inputs: declaredInputs, loss = 'softmax-ce', ...hostOptions } = options;
  const perSample = inputShape?.reduce((a, b) => a * b, 1);
  if (inputShape && !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`evaluateModel: inputShape [${inputShape.join(', ')}] must be positive integers`);
  }
  const scorer = scorers[loss];
  if (!scorer) throw new Error(`evaluateModel: unknown loss kind '${loss}'`);
  const declared = declaredInputs && batchInputs({ architecture: 'exported', inputs: declaredInputs }, 'evaluateModel');
  const host = new SessionHost(hostOptions);
  let count = 0;
  const acc = { correct: 0, lossSum: 0 };
  const score = (b: Batch, output: TensorData): void => {
    const data = output.data as Float32Array;
    const width = data.length / b.size;
    if (loss !== 'softmax-ce' && width !== 1) throw new Error(`evaluateModel: ${loss} needs one output per sample, the model gives ${width}`);
    for (let i = 0; i < b.size; i++) scorer(data.subarray(i * width, (i + 1) * width), b.y[i]!, acc);
    count += b.size;
  };

  try {
    const session = await host.createSession(onnxBytes);
    let inputs: BatchInputs;
    // The session's only input, fed flat from `x`, when no inputs were declared.
    let flat: string | undefined;
    if (declared) {
      const names = [...(declared.float ? [declared.float.name] : []), ...(declared.ids ? [declared.ids.name] : [])];
      if (session.inputNames.length !== names.length || !names.every((n) => session.inputNames.includes(n))) {
        throw new Error(`evaluateModel: the model's inputs (${session.inputNames.join(', ')}) are not the declared inputs (${names.join(', ')})`);
      }
      inputs = declared;
    } else {
      if (session.inputNames.length !== 1) {
        throw new Error(
          `evaluateModel: the model has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); `
          + 'give options.inputs (the ModelDefinition\'s inputs) to say which the batch\'s x and categorical ids feed',
        );
      }
      flat = session.inputNames[0]!;
      inputs = { float: { name: flat, dims: inputShape ?? [], features: perSample ?? 0 } };
    }
    const bad = (why: string): Error => new Error(`evaluateModel: batch: ${why}`);
    const inFlight: Promise<void>[] = [];
    for await (const b of batches) {
      if (b.size === 0) continue;
      // Without declared dims the input is flat: whatever the batch's width.
      const fed = inputShape || flat === undefined ? inputs : { float: { name: flat, dims: [b.features], features: b.features } };
      checkBatchInputs(b, fed, bad);
      const done = session.run(inputFeeds(b, fed), { fetch: ['output'], transfer: true }).then((out) => score(b, out.output!));
      done.catch(() => {});
      inFlight.push(done);
      while (inFlight.length > MAX_IN_FLIGHT) await inFlight.shift()!;
    }
    for (const p of inFlight) await p;
  } finally {
    await host.close();
  }
  if (count === 0) return { count: 0, accuracy: 0, loss: 0 };
  return { count, accuracy: acc.correct / count, loss: acc.lossSum / count };
}
