import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { checkModelFootprint } from '../../activities/model-footprint.js';
import { createModel } from '../../lib/onnx/models/zoo.js';
import { trainingFootprint } from '../../lib/train/footprint.js';
import { parseSpec, type PipelineSpecInput } from '../../policies/spec.js';

const GiB = 2 ** 30;
const adam = { name: 'adam', lr: 0.001 } as const;

function specOf(model: PipelineSpecInput['model'], batchSize = 64) {
  return parseSpec({ dataset: { name: 'd' }, model, training: { batchSize, optimizer: adam }, trigger: { kind: 'dataAmount', every: 100 } });
}

describe('training footprint', () => {
  it('counts a model\'s parameters and its optimizer state exactly', () => {
    const spec = specOf({ architecture: 'mlp', hidden: [16], numClasses: 4 });
    const def = createModel(spec.model, 10);
    const { parameters, stateBytes, activationBytes } = trainingFootprint(def, spec.training.optimizer, 64);
    assert.equal(parameters, 10 * 16 + 16 + 16 * 4 + 4);
    assert.equal(stateBytes, 4 * 3 * parameters, 'parameters plus adam\'s two moments, as float32');
    assert.ok(activationBytes > 0);
    assert.equal(trainingFootprint(def, spec.training.optimizer, 128).activationBytes, 2 * activationBytes, 'activations scale with the batch');
  });

  it('refuses at registration a model that cannot fit the worker, naming the field to change', () => {
    const wide = specOf({ architecture: 'mlp', hidden: [65_536, 65_536, 65_536], numClasses: 4 });
    assert.throws(() => checkModelFootprint(createModel(wide.model, 32), wide, 64 * GiB), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure && err.nonRetryable && err.type === 'ModelMismatch');
      assert.match(err.message, /^model\.hidden: the mlp model has 8,592,490,500 parameters, needing 96\.0 GiB with adam state/);
      return true;
    });

    const images = specOf({ architecture: 'cnn', numClasses: 10, inputShape: [3, 1024, 1024], filters: [64] }, 1_048_576);
    assert.throws(() => checkModelFootprint(createModel(images.model, 3 * 1024 * 1024), images, 64 * GiB), /: training\.batchSize: the cnn model has 2,442 parameters/);

    const small = specOf({ architecture: 'mlp', hidden: [128], numClasses: 4 });
    checkModelFootprint(createModel(small.model, 32), small, 1 * GiB);
  });
});
