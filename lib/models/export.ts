import { buildInference } from '../onnx/models/build.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import type { ModelState } from '../train/model-state.js';

/**
 * A plain servable `.onnx`: parameters and buffers (e.g. BatchNorm running stats) embedded as initializers;
 * inputs `def.inputs`; outputs `output` [B, outputSize] (logits, a single logit, or a prediction, by
 * `def.loss`) and `embedding`. Throws naming a parameter or buffer that is missing or mis-sized.
 */
export function exportInferenceModel(def: ModelDefinition, state: Pick<ModelState, 'params' | 'buffers'>): Uint8Array {
  const weights: Record<string, Float32Array> = { ...state.params };
  for (const [name, value] of Object.entries(state.buffers ?? {})) {
    if (name in weights) throw new Error(`exportInferenceModel: '${name}' is both a parameter and a buffer`);
    weights[name] = value;
  }
  return buildInference(def, weights);
}
