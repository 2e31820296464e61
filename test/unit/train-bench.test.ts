/**
 * `tide bench train` on a real train-step session: rounds of the raw loop and the trainer, a row per batch size with
 * the trainer's K per round and the ratio paired within each round.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchTrain } from '../../bench/train.js';

describe('bench train', () => {
  it('times both sides in every round and reports medians with the spread of the per-round ratios', async () => {
    const rows = await benchTrain({ batchSizes: [16], seconds: 0.05, rounds: 3, models: ['logisticRegression'], stepsPerRun: 2 });
    assert.equal(rows.length, 1);
    const [row] = rows;
    assert.equal(row!.model, 'logisticRegression');
    assert.deepEqual(row!.stepsPerRun, [2, 2, 2], 'the K of each round');
    for (const s of [row!.rawSamplesPerS, row!.trainerSamplesPerS, row!.ratio]) assert.ok(s.min > 0 && s.min <= s.median && s.median <= s.max, JSON.stringify(s));
    assert.ok(row!.steps >= 5 && row!.peakRssMb > 0);
  });
});
