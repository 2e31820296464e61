/**
 * Evaluation of an exported inference model (input `x`, output `output`: a classifier's logits) over batches, in a
 * SessionHost worker. Accuracy and cross-entropy are computed here from the logits, so any classifier export works unchanged.
 */
import type { Batch } from '../data/batch.js';
import { SessionHost, type SessionHostOptions, type TensorData } from '../onnx/session-host.js';

export interface EvalResult {
  count: number;
  /** In [0, 1]; 0 when count is 0. */
  accuracy: number;
  /** Mean unweighted cross-entropy; 0 when count is 0. */
  loss: number;
}

/** Batches posted ahead of the one whose logits are being scored. */
const MAX_IN_FLIGHT = 2;

/**
 * Batch arrays that own their whole buffer are transferred to the worker and left detached. `options` pick the
 * execution provider (default CPU; CUDA falls back to it with one warning).
 */
export async function evaluateModel(
  onnxBytes: Uint8Array, batches: AsyncIterable<Batch>, options: SessionHostOptions = {},
): Promise<EvalResult> {
  const host = new SessionHost(options);
  let count = 0;
  let correct = 0;
  let lossSum = 0;
  const score = (b: Batch, logits: Float32Array): void => {
    const classes = logits.length / b.size;
    for (let i = 0; i < b.size; i++) {
      const row = logits.subarray(i * classes, (i + 1) * classes);
      const label = b.y[i]!;
      if (label < 0 || label >= classes) throw new Error(`evaluateModel: label ${label} outside [0, ${classes})`);
      let argmax = 0;
      for (let c = 1; c < classes; c++) if (row[c]! > row[argmax]!) argmax = c;
      let sumExp = 0;
      for (let c = 0; c < classes; c++) sumExp += Math.exp(row[c]! - row[argmax]!);
      lossSum += Math.log(sumExp) - (row[label]! - row[argmax]!);
      if (argmax === label) correct++;
    }
    count += b.size;
  };

  try {
    const session = await host.createSession(onnxBytes);
    const inFlight: Promise<void>[] = [];
    for await (const b of batches) {
      if (b.size === 0) continue;
      const x: TensorData = { type: 'float32', dims: [b.size, b.features], data: b.x };
      const done = session.run({ x }, { fetch: ['output'], transfer: true })
        .then((out) => score(b, out.output!.data as Float32Array));
      done.catch(() => {});
      inFlight.push(done);
      while (inFlight.length > MAX_IN_FLIGHT) await inFlight.shift()!;
    }
    for (const p of inFlight) await p;
  } finally {
    await host.close();
  }
  return count === 0 ? { count: 0, accuracy: 0, loss: 0 } : { count, accuracy: correct / count, loss: lossSum / count };
}
