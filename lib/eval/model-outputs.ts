/**
 * What a model says about a window of samples, computed in its live session (model-sessions.ts): the `embedding`
 * output of every sample as a Matrix (for the drift statistics), or the predictions of `output` scored against the
 * labels (for performance triggers). Only these results leave the worker, never per-sample data.
 */
import type { Batch } from '../data/batch.js';
import { checkBatchInputs, inputFeeds } from '../onnx/batch-feeds.js';
import type { TensorData } from '../onnx/session-host.js';
import { matrix, type Matrix } from './drift/matrix.js';
import type { ModelSession } from './model-sessions.js';

/** A model's outputs cannot serve the measurement: a non-finite embedding, a label it cannot predict, a bad batch. */
export class ModelOutputError extends Error {
  override name = 'ModelOutputError';
}

/** Batches posted ahead of the one whose output is being read (as evaluate.ts). */
const MAX_IN_FLIGHT = 2;

/**
 * Input values of one inference run: about 8 MB, so that the host's per-run cost (two messages between threads,
 * each waking a thread) stays small against the model's work even for a small MLP, while a convolutional model's
 * activations stay within a few hundred MB.
 */
const RUN_INPUT_VALUES = 2 ** 21;

/** Samples per inference run for samples of `valuesPerSample` input values (features and categorical ids). */
export function inferenceBatchSize(valuesPerSample: number): number {
  return Math.max(256, Math.min(4096, Math.floor(RUN_INPUT_VALUES / Math.max(1, valuesPerSample))));
}

export interface OutputOptions {
  /** The sample key of each row, in batch order, so that an error names the sample; otherwise it names the row. */
  keys?: ArrayLike<number>;
}

/**
 * The `embedding` output of every row as a rows × width matrix. Batch buffers are transferred to the host's
 * thread and left detached. A NaN or infinite value is an error naming the sample and the model.
 */
export async function embeddingMatrix(model: ModelSession, batches: AsyncIterable<Batch>, options: OutputOptions = {}): Promise<Matrix> {
  requireOutput(model, 'embedding');
  // With the keys, the row count is known and the matrix is allocated once.
  const expectedRows = options.keys?.length ?? 0;
  let data = new Float32Array(0);
  let rows = 0;
  let cols = -1;
  await forEachOutput(model, 'embedding', batches, (b, out, firstRow) => {
    const width = out.dims[1] ?? 0;
    if (out.dims.length !== 2 || out.dims[0] !== b.size || width < 1 || (cols >= 0 && width !== cols)) {
      throw new ModelOutputError(`model ${model.modelId}: embedding is [${out.dims.join(', ')}] for a batch of ${b.size}; expected [${b.size}, ${cols >= 0 ? cols : 'width'}]`);
    }
    if (cols < 0) {
      cols = width;
      data = new Float32Array(expectedRows * cols);
    }
    const values = out.data as Float32Array;
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) {
        const sample = sampleName(options, firstRow + Math.floor(i / cols));
        throw new ModelOutputError(`model ${model.modelId}: embedding of ${sample} is ${values[i]} (dimension ${i % cols})`);
      }
    }
    if (data.length < (rows + b.size) * cols) {
      const grown = new Float32Array(Math.max(2 * data.length, (rows + b.size) * cols));
      grown.set(data.subarray(0, rows * cols));
      data = grown;
    }
    data.set(values, rows * cols);
    rows += b.size;
  });
  return matrix(data.subarray(0, rows * Math.max(cols, 0)), rows, Math.max(cols, 0));
}

export interface ClassificationPerformance {
  count: number;
  correct: number;
  /** correct / count; 0 when count is 0. */
  accuracy: number;
  /** Mean F1 over the classes that occur as a label or a prediction (as scikit-learn's macro F1); 0 when count is 0. */
  macroF1: number;
}

/**
 * The model's predictions scored against the labels: argmax of `output` for softmax-ce, `output > 0` (class 1)
 * for bce-logits. A regression model (mse) predicts no class and is refused.
 */
export async function classificationPerformance(
  model: ModelSession, batches: AsyncIterable<Batch>, options: OutputOptions = {},
): Promise<ClassificationPerformance> {
  requireOutput(model, 'output');
  if (model.loss === 'mse') throw new ModelOutputError(`model ${model.modelId} is a regression model (mse): it predicts no class to score`);
  let confusion: Int32Array | undefined;
  let classes = 0;
  let count = 0;
  await forEachOutput(model, 'output', batches, (b, out, firstRow) => {
    const scores = out.data as Float32Array;
    const width = scores.length / b.size;
    if (!confusion) {
      if (model.loss === 'bce-logits' && width !== 1) throw new ModelOutputError(`model ${model.modelId}: bce-logits needs one output per sample, it gives ${width}`);
      classes = model.loss === 'bce-logits' ? 2 : width;
      confusion = new Int32Array(classes * classes);
    }
    for (let r = 0; r < b.size; r++) {
      const label = b.y[r]!;
      if (!(label >= 0 && label < classes)) {
        const sample = sampleName(options, firstRow + r);
        throw new ModelOutputError(`model ${model.modelId}: label ${label} of ${sample} is not one of its ${classes} classes`);
      }
      confusion[label * classes + predicted(scores, r * width, width)]!++;
    }
    count += b.size;
  });
  if (!confusion || count === 0) return { count: 0, correct: 0, accuracy: 0, macroF1: 0 };
  let correct = 0;
  let f1Sum = 0;
  let present = 0;
  for (let c = 0; c < classes; c++) {
    const truePositive = confusion[c * classes + c]!;
    let labelled = 0;
    let predictedAs = 0;
    for (let k = 0; k < classes; k++) {
      labelled += confusion[c * classes + k]!;
      predictedAs += confusion[k * classes + c]!;
    }
    correct += truePositive;
    if (labelled + predictedAs === 0) continue;
    present++;
    f1Sum += (2 * truePositive) / (labelled + predictedAs);
  }
  return { count, correct, accuracy: correct / count, macroF1: f1Sum / present };
}

/** The predicted class of the output row at `at`: its argmax, or 1 for a positive single logit. */
function predicted(scores: Float32Array, at: number, width: number): number {
  if (width === 1) return scores[at]! > 0 ? 1 : 0;
  let best = 0;
  for (let c = 1; c < width; c++) if (scores[at + c]! > scores[at + best]!) best = c;
  return best;
}

function sampleName({ keys }: OutputOptions, row: number): string {
  return keys && row < keys.length ? `sample key ${keys[row]}` : `row ${row}`;
}

function requireOutput(model: ModelSession, name: string): void {
  if (!model.session.outputNames.includes(name)) {
    throw new ModelOutputError(`model ${model.modelId} has no '${name}' output (its outputs: ${model.session.outputNames.join(', ')})`);
  }
}

/**
 * Runs every non-empty batch and hands each one's `name` output to `read` in batch order, with the index of the
 * batch's first row, keeping up to MAX_IN_FLIGHT runs queued on the host so its thread never waits for the next.
 */
async function forEachOutput(
  model: ModelSession,
  name: string,
  batches: AsyncIterable<Batch>,
  read: (b: Batch, out: TensorData, firstRow: number) => void,
): Promise<void> {
  const bad = (why: string): Error => new ModelOutputError(`model ${model.modelId}: batch: ${why}`);
  const inFlight: Promise<void>[] = [];
  let rows = 0;
  for await (const b of batches) {
    if (b.size === 0) continue;
    checkBatchInputs(b, model.inputs, bad);
    const firstRow = rows;
    rows += b.size;
    const done = model.session.run(inputFeeds(b, model.inputs), { fetch: [name], transfer: true }).then((out) => read(b, out[name]!, firstRow));
    done.catch(() => {});
    inFlight.push(done);
    while (inFlight.length > MAX_IN_FLIGHT) await inFlight.shift()!;
  }
  for (const p of inFlight) await p;
}
