import { buildInference } from '../onnx/models/build.js';
import { mlpModel, type MlpConfig } from '../onnx/models/mlp.js';

/** A plain servable `.onnx`: weights embedded as initializers, input `x`, outputs `output` (logits) and `embedding`. */
export function exportInferenceModel(cfg: MlpConfig, params: Record<string, Float32Array>): Uint8Array {
  return buildInference(mlpModel(cfg), params);
}
