import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  activeModel, compositeSeries, meanCompositeAccuracy, pipelineCost, pipelineFigures, trainedModel, transferFigures,
  type EvaluationMatrix, type MatrixCell,
} from '../../lib/eval/composite.js';

/** A full matrix from rows R[model] over intervals 0..n−1, every interval with `samples[i]` held-out samples. */
function matrix(rows: Record<number, (number | null)[]>, samples: number[]): EvaluationMatrix {
  const cells: MatrixCell[] = Object.entries(rows).flatMap(([model, accuracies]) =>
    accuracies.map((accuracy, intervalId) => ({ modelTrigger: Number(model), intervalId, accuracy, numSamples: samples[intervalId]! })),
  );
  return { models: Object.keys(rows).map(Number).sort((a, b) => a - b), intervals: samples.map((_, i) => i), cells };
}

const close = (actual: number | null, expected: number) => assert.ok(actual !== null && Math.abs(actual - expected) < 1e-12, `${actual} ≠ ${expected}`);

describe('composite model', () => {
  it('serves each interval with the latest model trained before it; none for interval 0', () => {
    const models = [0, 2, 3]; // trigger 1 skipped training
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => activeModel(i, models)), [null, 0, 0, 2, 3]);
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => trainedModel(i, models)), [0, null, 2, 3, null]);
  });

  it('reads the active and the trained model’s accuracy per interval', () => {
    // Triggers 0, 1, 2 (1 trained nothing) and the trailing interval 3.
    const m = matrix({ 0: [0.9, 0.7, 0.6, 0.5], 2: [0.8, 0.8, 0.95, 0.75] }, [10, 10, 10, 10]);
    assert.deepEqual(
      compositeSeries(m).map((p) => [p.intervalId, p.activeModel, p.activeAccuracy, p.trainedModel, p.trainedAccuracy]),
      [[0, null, null, 0, 0.9], [1, 0, 0.7, null, null], [2, 0, 0.6, 2, 0.95], [3, 2, 0.75, null, null]],
    );
  });

  it('averages the active model’s accuracy weighted by held-out samples, skipping unscored intervals', () => {
    const m = matrix({ 0: [0.9, 0.5, 0.8], 1: [0.9, 0.9, 0.6] }, [100, 30, 10]);
    // interval 0: no active model; interval 1: model 0 (0.5 × 30); interval 2: model 1 (0.6 × 10).
    close(meanCompositeAccuracy(compositeSeries(m)), (0.5 * 30 + 0.6 * 10) / 40);
    const unscored = matrix({ 0: [0.9, 0.5, null], 1: [0.9, 0.9, null] }, [100, 30, 0]);
    close(meanCompositeAccuracy(compositeSeries(unscored)), 0.5);
    assert.equal(meanCompositeAccuracy(compositeSeries(matrix({ 0: [0.9] }, [10]))), null);
  });
});

describe('forgetting and transfer', () => {
  // R[model][interval] over tasks 0, 1, 2 and the trailing interval 3.
  const R = { 0: [0.9, 0.6, 0.5, 0.4], 1: [0.8, 0.95, 0.55, 0.5], 2: [0.7, 0.85, 0.9, 0.6] };
  const m = matrix(R, [10, 10, 10, 10]);

  it('follows the GEM and Chaudhry definitions on the models’ own intervals', () => {
    const figures = transferFigures(m, 0.1);
    // BWT: (R[2][0] − R[0][0] + R[2][1] − R[1][1]) / 2
    close(figures.backwardTransfer, (0.7 - 0.9 + (0.85 - 0.95)) / 2);
    // FWT: (R[0][1] − b + R[1][2] − b) / 2
    close(figures.forwardTransfer, (0.6 - 0.1 + (0.55 - 0.1)) / 2);
    // Forgetting: task 0: max(R[0][0], R[1][0]) − R[2][0]; task 1: R[1][1] − R[2][1].
    close(figures.forgetting, (0.9 - 0.7 + (0.95 - 0.85)) / 2);
  });

  it('leaves forward transfer out without a chance baseline, and everything out with one model', () => {
    assert.equal(transferFigures(m, null).forwardTransfer, null);
    assert.deepEqual(transferFigures(matrix({ 0: [0.9, 0.5] }, [10, 10]), 0.5), { backwardTransfer: null, forwardTransfer: null, forgetting: null });
  });

  it('takes only triggers that trained a model as tasks', () => {
    // Trigger 1 trained nothing: tasks are 0 and 2, the previous model of task 2 is model 0.
    const skipped = matrix({ 0: [0.9, 0.6, 0.5, 0.4], 2: [0.7, 0.85, 0.9, 0.6] }, [10, 10, 10, 10]);
    const figures = transferFigures(skipped, 0.1);
    close(figures.backwardTransfer, 0.7 - 0.9);
    close(figures.forwardTransfer, 0.5 - 0.1);
    close(figures.forgetting, 0.9 - 0.7);
  });
});

describe('cost', () => {
  it('sums training sets, samples processed, training, scoring and evaluation time', () => {
    const triggers = [{ numSelected: 40 }, { numSelected: 0 }, { numSelected: 25 }];
    const models = [{ numSamples: 120, trainingMs: 1500, numScored: 480, scoringMs: 300 }, { numSamples: 75, trainingMs: 500, numScored: 0, scoringMs: 0 }];
    assert.deepEqual(pipelineCost(triggers, models, 1.5), {
      triggers: 3, models: 2, samplesTrained: 65, samplesProcessed: 195, trainingSeconds: 2, samplesScored: 480, scoringSeconds: 0.3, evaluationSeconds: 1.5,
    });
  });

  it('gathers the figures of a pipeline', () => {
    const figures = pipelineFigures(matrix({ 0: [0.9, 0.5] }, [10, 10]), [{ numSelected: 10 }], [{ numSamples: 10, trainingMs: 100, numScored: 0, scoringMs: 0 }], 0, 0.5);
    assert.equal(figures.meanCompositeAccuracy, 0.5);
    assert.equal(figures.cost.trainingSeconds, 0.1);
  });
});
