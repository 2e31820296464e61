import type { ModelDefinition } from '../lib/onnx/models/model.js';
import { createModel } from '../lib/onnx/models/zoo.js';
import type { ModelSpec } from '../policies/spec.js';
import { configurationError } from './failures.js';

/**
 * The spec's model for the dataset's samples (`features` floats and `categoricalCount` categorical ids each);
 * a model that does not fit them is a configuration error.
 */
export function modelFor(model: ModelSpec, features: number, categoricalCount: number): ModelDefinition {
  try {
    return createModel(model, features, categoricalCount);
  } catch (err) {
    throw configurationError('ModelMismatch', (err as Error).message);
  }
}
