import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forecastTrainingMs } from '../../policies/triggers/cost-forecast.js';
import { createTriggerPolicy } from '../../policies/triggers/index.js';
import type { MeasureRequest, MeasureResult } from '../../policies/triggers/protocol.js';
import { batchesOf, drive } from '../helpers/policy-driver.js';
import { triggerSpec } from '../helpers/trigger-spec.js';

/** One sample per second: sample k has timestamp k. */
function dataTime(request: MeasureRequest): MeasureResult {
  assert.equal(request.kind, 'dataTime');
  if (request.kind !== 'dataTime') throw new Error('unreachable');
  const { firstKey, lastKey } = request.range;
  const count = lastKey - firstKey + 1;
  return { kind: 'dataTime', count, minTs: firstKey, maxTs: lastKey, sumTs: ((firstKey + lastKey) * count) / 2 };
}

describe('training-time forecast', () => {
  it('fits a line through past trainings, through the origin with one, and nothing with none', () => {
    assert.equal(forecastTrainingMs([], 100), null);
    assert.equal(forecastTrainingMs([{ samples: 100, trainingMs: 1000 }], 250), 2500);
    assert.equal(forecastTrainingMs([{ samples: 100, trainingMs: 1500 }, { samples: 300, trainingMs: 2500 }], 500), 3500);
  });

  it('takes time proportional to samples where a line would extrapolate noise: sizes close together, or time falling', () => {
    // Two trainings of about 1,000 samples: the line through them would forecast ~41 s for 9,500 samples.
    const alike = [{ samples: 1000, trainingMs: 500 }, { samples: 1010, trainingMs: 900 }];
    assert.equal(forecastTrainingMs(alike, 9500), (700 / 1005) * 9500);
    assert.equal(forecastTrainingMs([{ samples: 100, trainingMs: 1000 }, { samples: 300, trainingMs: 100 }], 10_000), (550 / 200) * 10_000);
  });
});

describe('cost trigger', () => {
  it('fires when the latency regret reaches the forecast training time, and resets it at each trigger', () => {
    const spec = triggerSpec({ kind: 'cost', every: 100, regret: { kind: 'latency', perTrainingSecond: 100_000 } });
    // Training costs 10 ms a sample. After k intervals of 100 samples the regret is 5000k² − 50k sample-seconds,
    // 0.05k² − 0.0005k training seconds, against a forecast of k seconds: it first carries at k = 21.
    const run = drive(createTriggerPolicy(spec, 0), batchesOf([4400]), { measure: dataTime, trainingMs: (n) => n * 10 });
    assert.deepEqual(run.cuts, [100, 2200, 4300]);
    const before = run.evaluations.find((e) => e.interval.lastKey === 2100)!;
    assert.ok(!before.triggered && before.scores.regretSeconds! < before.thresholds.regretSeconds!);
    const at = run.evaluations.find((e) => e.interval.lastKey === 2200)!;
    assert.equal(at.scores.regret, 5000 * 21 * 21 - 50 * 21);
    assert.equal(at.thresholds.regretSeconds, 21);
    assert.ok(run.requests.every((r) => r.kind === 'dataTime'));
  });

  it('weighs avoidable misclassifications against the forecast', () => {
    const spec = triggerSpec({ kind: 'cost', every: 100, regret: { kind: 'misclassifications', perTrainingSecond: 10, expectedAccuracy: 0.95 } });
    // 0.85 accuracy: 10 avoidable misclassifications per interval, worth 1 training second. At 20 ms a sample the
    // forecast for k waiting intervals is 2k s, which the regret (k s) never reaches; at 5 ms a sample it is 0.5k s.
    const measure = (): MeasureResult => ({ kind: 'performance', count: 100, correct: 85, accuracy: 0.85, macroF1: 0.85 });
    assert.deepEqual(drive(createTriggerPolicy(spec, 0), batchesOf([600]), { measure, trainingMs: (n) => n * 20 }).cuts, [100]);
    assert.deepEqual(drive(createTriggerPolicy(spec, 0), batchesOf([400]), { measure, trainingMs: (n) => n * 5 }).cuts, [100, 200, 300, 400]);
  });
});
