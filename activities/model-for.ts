import type { ModelStore } from '../lib/models/store.js';
import { loadUserModel } from '../lib/models/user-graphs.js';
import type { ModelDefinition } from '../lib/onnx/models/model.js';
import { createModel } from '../lib/onnx/models/zoo.js';
import type { ModelSpec } from '../policies/spec.js';
import { configurationError } from './failures.js';

/**
 * The spec's model for the dataset's samples (`features` floats and `categoricalCount` categorical ids each):
 * a zoo architecture, or the user's graphs read from `store` or their absolute paths. A model that does not
 * fit them, or a user graph that is missing, changed or breaks the contract, is a configuration error.
 */
export async function modelFor(model: ModelSpec, features: number, categoricalCount: number, store: ModelStore): Promise<ModelDefinition> {
  try {
    if (model.architecture === 'onnx') return await loadUserModel(store, model, features, categoricalCount);
    return createModel(model, features, categoricalCount);
  } catch (err) {
    throw configurationError('ModelMismatch', (err as Error).message);
  }
}
