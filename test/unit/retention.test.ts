import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelsToDelete, type RetainedModel } from '../../lib/models/retention.js';

/** A pipeline's models for triggers 0..count-1, ids from `firstId`, each fine-tuned from the previous when `chained`. */
function pipeline(pipelineId: number, firstId: number, count: number, chained: boolean): RetainedModel[] {
  return Array.from({ length: count }, (_, t) => ({
    modelId: firstId + t, pipelineId, triggerId: t, parentModelId: chained && t > 0 ? firstId + t - 1 : null, deleted: false,
  }));
}
const ids = (models: RetainedModel[]) => models.map((m) => m.modelId).sort((a, b) => a - b);

describe('modelsToDelete', () => {
  it('deletes all but the last N of each pipeline', () => {
    const models = [...pipeline(1, 1, 8, false), ...pipeline(2, 100, 3, false)];
    assert.deepEqual(ids(modelsToDelete(models, { keep: 5, runningPipelines: new Set() })), [1, 2, 3]);
  });

  it('keeps the parent of a kept model, one level deep', () => {
    assert.deepEqual(ids(modelsToDelete(pipeline(1, 1, 8, true), { keep: 2, runningPipelines: new Set() })), [1, 2, 3, 4, 5]);
  });

  it('keeps a running pipeline\'s latest model even with --keep 0, and its parent', () => {
    const models = [...pipeline(1, 1, 4, true), ...pipeline(2, 100, 2, false)];
    assert.deepEqual(ids(modelsToDelete(models, { keep: 0, runningPipelines: new Set([1]) })), [1, 2, 100, 101]);
  });

  it('never returns a model already deleted', () => {
    const models = pipeline(1, 1, 4, false).map((m) => ({ ...m, deleted: m.triggerId === 0 }));
    assert.deepEqual(ids(modelsToDelete(models, { keep: 2, runningPipelines: new Set() })), [2]);
  });

  it('refuses a keep that is not a whole number', () => {
    assert.throws(() => modelsToDelete([], { keep: -1, runningPipelines: new Set() }), /whole number/);
  });
});
