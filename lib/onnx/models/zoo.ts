import type { ModelSpec } from '../../../policies/spec.js';
import { cnnModel } from './cnn.js';
import { logisticRegressionModel } from './logistic-regression.js';
import { mlpModel } from './mlp.js';
import type { ModelDefinition } from './model.js';
import { resnetModel } from './resnet.js';

/** A model spec that does not fit the dataset; the message names the spec field. */
export class ModelSpecError extends Error {}

/**
 * The zoo's registry: builds the spec's architecture for samples of `features` float32 values.
 * Adding an architecture is one file in this folder, one schema entry in policies/spec.ts, one case here.
 */
export function createModel(spec: ModelSpec, features: number): ModelDefinition {
  switch (spec.architecture) {
    case 'logisticRegression':
      return logisticRegressionModel({ inputSize: features, numClasses: spec.numClasses });
    case 'mlp':
      return mlpModel({ inputSize: features, hidden: spec.hidden, numClasses: spec.numClasses, dropout: spec.dropout });
    case 'cnn':
    case 'resnet': {
      const [channels, height, width] = spec.inputShape;
      if (channels * height * width !== features) {
        throw new ModelSpecError(
          `model.inputShape: [${spec.inputShape.join(', ')}] holds ${channels * height * width} values, but the dataset's samples have ${features} features`,
        );
      }
      try {
        return spec.architecture === 'cnn'
          ? cnnModel({ channels, height, width, numClasses: spec.numClasses, filters: spec.filters })
          : resnetModel({ channels, height, width, numClasses: spec.numClasses, widths: spec.widths, blocksPerStage: spec.blocksPerStage });
      } catch (err) {
        throw new ModelSpecError(`model: ${(err as Error).message}`);
      }
    }
  }
}
