import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Batch } from '../../lib/data/batch.js';
import { pickedCount, scoredBatchSize } from '../../lib/train/batch-then-sample.js';
import { EpochSegment, roundEpochs } from '../../lib/train/epoch-segment.js';
import { mergedPicks } from '../../lib/train/merged-picks.js';
import { pickedBatch } from '../../lib/train/picked-batch.js';

/** Counts by walking the steps one by one: what the segment's arithmetic must equal. */
function walk(size: number, epochs: number, loadBatch: number, trainedOf: (n: number) => number) {
  const steps: { epoch: number; loaded: number; trained: number }[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let at = 0; at < size; at += loadBatch) {
      const loaded = Math.min(loadBatch, size - at);
      steps.push({ epoch, loaded, trained: trainedOf(loaded) });
    }
  }
  return steps;
}

describe('epoch segments', () => {
  it('maps step counts to epochs and samples, as walking the steps does', () => {
    for (const [size, epochs, batchSize, ratio] of [[1000, 3, 64, 1], [1000, 3, 64, 0.3], [64, 2, 64, 0.5], [7, 4, 3, 0.25], [0, 2, 8, 1]] as const) {
      const load = scoredBatchSize(batchSize, ratio);
      const trainedOf = (n: number) => pickedCount(n, batchSize, ratio);
      const segment = new EpochSegment(size, 2, 2 + epochs, load, trainedOf);
      const steps = walk(size, epochs, load, trainedOf);
      assert.equal(segment.steps, steps.length);
      for (let s = 0; s <= steps.length; s++) {
        const done = steps.slice(0, s);
        assert.equal(segment.trainedAfter(s), done.reduce((a, b) => a + b.trained, 0), `trained after ${s} (${size}, ${ratio})`);
        assert.equal(segment.loadedAfter(s), done.reduce((a, b) => a + b.loaded, 0));
        if (s < steps.length) {
          const { epoch, skipBatches } = segment.position(s);
          assert.equal(epoch, 2 + steps[s]!.epoch);
          assert.equal(skipBatches, steps.slice(0, s).filter((x) => x.epoch === steps[s]!.epoch).length);
        }
      }
    }
  });

  it('loads B / ratio samples per step and trains on B, or ratio of a short last batch', () => {
    assert.equal(scoredBatchSize(64, 0.25), 256);
    assert.equal(scoredBatchSize(64, 0.3), 214);
    assert.equal(pickedCount(214, 64, 0.3), 64);
    assert.equal(pickedCount(10, 64, 0.3), 3);
    assert.equal(pickedCount(1, 64, 0.3), 1);
  });

  it('splits epochs into scoring rounds of period epochs, or one round for period 0', () => {
    assert.deepEqual(roundEpochs(5, 2), [[0, 2], [2, 4], [4, 5]]);
    assert.deepEqual(roundEpochs(3, 0), [[0, 3]]);
    assert.deepEqual(roundEpochs(3, 1), [[0, 1], [1, 2], [2, 3]]);
  });
});

describe('picked samples', () => {
  const batch: Batch = {
    x: Float32Array.from({ length: 8 }, (_, i) => i), y: Int32Array.of(0, 1, 2, 3), w: Float32Array.of(1, 1, 2, 1), size: 4, features: 2,
    categorical: Int32Array.of(10, 11, 12, 13), categoricalCount: 1,
  };

  it('gathers picked rows with repeats, multiplying their weights', () => {
    const picked = pickedBatch(batch, { indexes: Uint32Array.of(2, 0, 2), weights: Float32Array.of(0.5, 2, 0.5) });
    assert.deepEqual([...picked.x], [4, 5, 0, 1, 4, 5]);
    assert.deepEqual([...picked.y], [2, 0, 2]);
    assert.deepEqual([...picked.w], [1, 2, 1]);
    assert.deepEqual([...picked.categorical!], [12, 10, 12]);
    assert.equal(picked.size, 3);
  });

  it('merges repeated picks of a key into one row with the summed weight, keys ascending', () => {
    const merged = mergedPicks(Float64Array.of(100, 200, 300), { indexes: Uint32Array.of(2, 0, 2), weights: Float32Array.of(0.5, 2, 0.25) });
    assert.deepEqual([...merged.keys], [100, 300]);
    assert.deepEqual([...merged.weights], [2, 0.75]);
  });
});
