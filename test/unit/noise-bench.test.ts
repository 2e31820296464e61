/**
 * `tide bench noise` on real train-step sessions: two copies of the raw loop taking turns, a row per (model, batch
 * size) with both sides' medians and the ratio paired within each round.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchNoise, maxDeviation } from '../../bench/noise.js';

describe('bench noise', () => {
  it('times both copies of the raw loop in every round and reports the per-round ratio', async () => {
    const rows = await benchNoise({ batchSizes: [8, 16], seconds: 0.02, rounds: 3, models: ['logisticRegression'] });
    assert.deepEqual(rows.map((r) => [r.model, r.batchSize]), [['logisticRegression', 8], ['logisticRegression', 16]]);
    for (const row of rows) {
      assert.ok(row.steps >= 3, `steps ${row.steps}`);
      for (const s of [row.firstSamplesPerS, row.secondSamplesPerS, row.ratio]) assert.ok(s.min > 0 && s.min <= s.median && s.median <= s.max, JSON.stringify(s));
    }
    assert.equal(maxDeviation(rows), Number(Math.max(...rows.map((r) => Math.abs(r.ratio.median - 1))).toFixed(3)));
  });

  it('names the model it does not know', async () => {
    await assert.rejects(benchNoise({ batchSizes: [8], seconds: 0.02, rounds: 1, models: ['perceptron'] }), /unknown model perceptron/);
  });
});
