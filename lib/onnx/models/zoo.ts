import type { ModelSpec } from '../../../policies/spec.js';
import { cnnModel } from './cnn.js';
import { dlrmModel, MAX_EMBEDDING_FLOATS } from './dlrm.js';
import { logisticRegressionModel } from './logistic-regression.js';
import { mlpModel } from './mlp.js';
import type { ModelDefinition } from './model.js';
import { resnetModel } from './resnet.js';
import { textClassifierModel } from './text.js';

/** A model spec that does not fit the dataset; the message names the spec field. */
export class ModelSpecError extends Error {}

/**
 * The zoo's registry: builds the spec's architecture for samples of `features` float32 values and
 * `categoricalCount` categorical ids (0 when the dataset has none; dlrm and textClassifier use them). A text
 * dataset's samples have no float features, only token ids: textClassifier is its only model.
 * Adding an architecture is one file in this folder, one schema entry in policies/spec.ts, one case here.
 */
export function createModel(spec: ModelSpec, features: number, categoricalCount = 0): ModelDefinition {
  if (features === 0 && spec.architecture !== 'textClassifier') {
    throw new ModelSpecError(
      `model.architecture: ${spec.architecture} needs float features, but the dataset's samples have none (a text dataset's token ids need textClassifier)`,
    );
  }
  switch (spec.architecture) {
    case 'logisticRegression':
      return logisticRegressionModel({ inputSize: features, numClasses: spec.numClasses, standardize: spec.standardize });
    case 'mlp':
      return mlpModel({ inputSize: features, hidden: spec.hidden, numClasses: spec.numClasses, dropout: spec.dropout, standardize: spec.standardize });
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
    case 'dlrm': {
      if (categoricalCount < 1) {
        throw new ModelSpecError("model.architecture: dlrm needs categorical ids, but the dataset's format has no categorical fields");
      }
      if (spec.bottom.at(-1) !== spec.embeddingDim) {
        throw new ModelSpecError(`model.bottom: [${spec.bottom.join(', ')}] must end with embeddingDim ${spec.embeddingDim}`);
      }
      const tableValues = spec.vocabSize * spec.embeddingDim * categoricalCount;
      if (tableValues > MAX_EMBEDDING_FLOATS) {
        throw new ModelSpecError(
          `model.vocabSize: ${spec.vocabSize} × model.embeddingDim ${spec.embeddingDim} × ${categoricalCount} categorical fields = ${tableValues} `
          + `table values, more than the ${MAX_EMBEDDING_FLOATS} that fit in memory with their optimizer state`,
        );
      }
      try {
        return dlrmModel({
          denseFeatures: features, sparseFeatures: categoricalCount, vocabSizes: new Array<number>(categoricalCount).fill(spec.vocabSize),
          embeddingDim: spec.embeddingDim, bottom: spec.bottom, top: spec.top,
        });
      } catch (err) {
        throw new ModelSpecError(`model: ${(err as Error).message} (vocabSize ${spec.vocabSize} × embeddingDim ${spec.embeddingDim} × ${categoricalCount} categorical fields)`);
      }
    }
    case 'onnx':
      throw new ModelSpecError("model.architecture: 'onnx' graphs are imported from the user's files (imported.ts), not built by the zoo");
    case 'textClassifier': {
      if (features > 0 || categoricalCount < 1) {
        throw new ModelSpecError(
          `model.architecture: textClassifier needs a text dataset's token ids, but the dataset's samples have ${features} float features and ${categoricalCount} categorical ids`,
        );
      }
      try {
        return textClassifierModel({ vocab: spec.vocabSize, dim: spec.embeddingDim, maxTokens: categoricalCount, numClasses: spec.numClasses, hidden: spec.hidden });
      } catch (err) {
        throw new ModelSpecError(`model: ${(err as Error).message}`);
      }
    }
  }
}
