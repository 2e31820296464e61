import { buildInference } from '../onnx/models/build.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import type { ModelState } from '../train/model-state.js';

/**
 * Protobuf messages, so ONNX files with initializers inside, are limited to 2 GiB; the rest of the graph (nodes,
 * names, small constants) is kept within the margin.
 */
export const MAX_EXPORT_WEIGHT_BYTES = 2 ** 31 - 2 ** 24;

/**
 * A plain servable `.onnx`: parameters (host-held embedding tables included) and buffers (e.g. BatchNorm running
 * stats) embedded as initializers; inputs `def.inputs`; outputs `output` [B, outputSize] (logits, a single logit,
 * or a prediction, by `def.loss`) and `embedding`. Throws naming a parameter or buffer that is missing or mis-sized,
 * or when the weights exceed MAX_EXPORT_WEIGHT_BYTES.
 */
export function exportInferenceModel(def: ModelDefinition, state: Pick<ModelState, 'params' | 'buffers'>): Uint8Array {
  const weights: Record<string, Float32Array> = { ...state.params };
  for (const [name, value] of Object.entries(state.buffers ?? {})) {
    if (name in weights) throw new Error(`exportInferenceModel: '${name}' is both a parameter and a buffer`);
    weights[name] = value;
  }
  const bytes = Object.values(weights).reduce((a, w) => a + w.byteLength, 0);
  if (bytes > MAX_EXPORT_WEIGHT_BYTES) {
    const largest = Object.entries(weights).reduce((a, b) => (b[1].length > a[1].length ? b : a));
    throw new Error(
      `exportInferenceModel: model ${def.architecture} has ${bytes} bytes of weights (largest: '${largest[0]}', ${largest[1].length} values); `
      + `an ONNX file with embedded weights holds at most ${MAX_EXPORT_WEIGHT_BYTES} (protobuf's 2 GiB limit)`,
    );
  }
  return buildInference(def, weights);
}
