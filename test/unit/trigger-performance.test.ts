import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTriggerPolicy } from '../../policies/triggers/index.js';
import type { MeasureRequest, MeasureResult } from '../../policies/triggers/protocol.js';
import { batchesOf, drive } from '../helpers/policy-driver.js';
import { triggerSpec } from '../helpers/trigger-spec.js';

/** Accuracy per interval end, as the current model would score it on 100 labelled samples. */
function scored(accuracy: (lastKey: number, modelId: number) => number) {
  return (request: MeasureRequest): MeasureResult => {
    assert.equal(request.kind, 'performance');
    if (request.kind !== 'performance') throw new Error('unreachable');
    const a = accuracy(request.window.lastKey, request.modelId);
    const count = request.window.lastKey - request.window.firstKey + 1;
    return { kind: 'performance', count, correct: Math.round(a * count), accuracy: a, macroF1: a - 0.05 };
  };
}

describe('performance trigger', () => {
  it('fires when accuracy falls under a static threshold, and the new model restores it', () => {
    // The data changes at 500: model 1 scores 0.9 before, 0.5 after; model 2 (trained at 600) scores 0.9.
    const run = drive(createTriggerPolicy(triggerSpec({ kind: 'performance', every: 100, criteria: [{ kind: 'threshold', value: 0.8 }] }), 0),
      batchesOf([1000]), { measure: scored((k, model) => (model === 1 && k > 500 ? 0.5 : 0.9)) });
    assert.deepEqual(run.cuts, [100, 600]);
    assert.match(run.reasons[1]!, /accuracy 0.5000 < 0.8000/);
    assert.ok(run.requests.every((r) => r.kind === 'performance' && r.window.lastKey - r.window.firstKey === 99));
  });

  it('watches macro F1 when asked', () => {
    const spec = triggerSpec({ kind: 'performance', every: 100, metric: 'f1', criteria: [{ kind: 'threshold', value: 0.86 }] });
    // accuracy 0.9 holds 0.86, its F1 (0.85) does not.
    assert.deepEqual(drive(createTriggerPolicy(spec, 0), batchesOf([300]), { measure: scored(() => 0.9) }).cuts, [100, 200, 300]);
  });

  it('counts avoidable misclassifications against the expected accuracy and resets them at each trigger', () => {
    const spec = triggerSpec({ kind: 'performance', every: 100, criteria: [{ kind: 'misclassifications', threshold: 25, expectedAccuracy: 0.9 }] });
    // 0.8 accuracy: 20 misclassified, 10 avoidable per interval of 100 → the third interval passes 25.
    const run = drive(createTriggerPolicy(spec, 0), batchesOf([800]), { measure: scored(() => 0.8) });
    assert.deepEqual(run.cuts, [100, 400, 700]);
    assert.ok(Math.abs(run.evaluations.find((e) => e.interval.lastKey === 400)!.scores.avoidableMisclassifications! - 30) < 1e-9);
  });

  it('takes the first accuracy of a model as the expectation when none is given', () => {
    const spec = triggerSpec({ kind: 'performance', every: 100, criteria: [{ kind: 'misclassifications', threshold: 15 }] });
    // Model 1 starts at 0.9, then slips 10 points: 10 avoidable per interval.
    const run = drive(createTriggerPolicy(spec, 0), batchesOf([600]), { measure: scored((k) => (k <= 200 ? 0.9 : 0.8)) });
    assert.deepEqual(run.cuts, [100, 400]);
  });

  it('needs a warm-up for a rolling-average criterion, then fires on a relative drop', () => {
    assert.throws(() => triggerSpec({ kind: 'performance', every: 100, criteria: [{ kind: 'rollingAverage' }] }), /criteria\.0\.kind: a dynamic criterion/);
    const spec = triggerSpec({
      kind: 'performance', every: 100, criteria: [{ kind: 'rollingAverage', window: 3, deviation: 0.1 }],
      warmup: { evaluations: 3, policy: { kind: 'dataAmount', every: 1000 } },
    });
    const run = drive(createTriggerPolicy(spec, 0), batchesOf([800]), { measure: scored((k) => (k === 600 ? 0.7 : 0.9)) });
    assert.deepEqual(run.cuts, [100, 600]);
  });
});
