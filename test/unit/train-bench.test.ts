/**
 * `tide bench train` on a real train-step session: one trainer call and the raw loop taking turns segment by segment,
 * a row per batch size with the trainer's K and the ratio paired within each round.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchTrain, pairedRounds, randomBatch } from '../../bench/train.js';
import { createModel } from '../../lib/onnx/models/zoo.js';

describe('bench train', () => {
  it('times both sides in every round and reports medians with the spread of the per-round ratios', async () => {
    const rows = await benchTrain({ batchSizes: [16], seconds: 0.05, rounds: 3, models: ['logisticRegression'], stepsPerRun: 2 });
    assert.equal(rows.length, 1);
    const [row] = rows;
    assert.equal(row!.model, 'logisticRegression');
    assert.equal(row!.stepsPerRun, 2, 'the K given');
    for (const s of [row!.rawSamplesPerS, row!.trainerSamplesPerS, row!.ratio]) assert.ok(s.min > 0 && s.min <= s.median && s.median <= s.max, JSON.stringify(s));
    assert.ok(row!.steps >= 3 && row!.peakRssMb > 0);
  });

  it('pairs each timed trainer segment with a raw segment of as many steps, after the warm-up segments', async () => {
    const def = createModel({ architecture: 'mlp', hidden: [8], numClasses: 3 }, 5);
    const { baseline: raw, trainer, stepsPerRun } = await pairedRounds(def, randomBatch(def, 4, 5, 0, 1), 6, 4, { stepsPerRun: 3 });
    assert.equal(raw.length, 4);
    assert.equal(trainer.length, 4);
    assert.equal(stepsPerRun, 3);
    for (const rate of [...raw, ...trainer]) assert.ok(Number.isFinite(rate) && rate > 0, String(rate));
  });
});
