import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { perSampleLoss } from '../../lib/train/downsampling/per-sample-loss.js';
import { rhoLoss } from '../../lib/train/downsampling/rho-loss.js';
import { twinIrreducibleModel, type IrreducibleModel } from '../../lib/train/irreducible-model.js';
import type { Batch } from '../../lib/data/batch.js';
import type { ScoredSamples } from '../../lib/train/downsampling/scored-samples.js';
import { createRng } from '../../lib/rng.js';

function samples(n: number, seed: number): ScoredSamples {
  const rng = createRng(seed);
  return {
    n, classes: 4, loss: 'softmax-ce', embeddingSize: 0, embedding: new Float32Array(0),
    output: Float32Array.from({ length: n * 4 }, () => 3 * rng.normal()),
    labels: Int32Array.from({ length: n }, () => rng.int(4)),
    irreducibleOutput: Float32Array.from({ length: n * 4 }, () => 3 * rng.normal()),
  };
}

describe('RHO-LOSS', () => {
  it('picks the top k by training loss minus irreducible loss, as a naive sort does', () => {
    const s = samples(200, 3);
    const training = perSampleLoss(s);
    const irreducible = perSampleLoss({ ...s, output: s.irreducibleOutput! });
    const naive = Array.from({ length: s.n }, (_, i) => i).sort((a, b) => (training[b]! - irreducible[b]!) - (training[a]! - irreducible[a]!) || a - b);
    for (const k of [1, 17, 200]) {
      const picks = rhoLoss(s, k);
      assert.deepEqual([...picks.indexes], naive.slice(0, k));
      assert.ok(picks.weights.every((w) => w === 1));
    }
  });

  it('prefers a sample the irreducible model gets right over one it also gets wrong (noise)', () => {
    const s: ScoredSamples = {
      n: 2, classes: 2, loss: 'softmax-ce', embeddingSize: 0, embedding: new Float32Array(0), labels: Int32Array.of(0, 0),
      // Both wrong for the model; the irreducible model is sure of sample 1's label and just as wrong on sample 0.
      output: Float32Array.of(-2, 2, -2, 2),
      irreducibleOutput: Float32Array.of(-2, 2, 4, -4),
    };
    assert.deepEqual([...rhoLoss(s, 1).indexes], [1]);
  });

  it('needs the irreducible outputs and a k in range', () => {
    const s = samples(10, 1);
    assert.throws(() => rhoLoss({ ...s, irreducibleOutput: undefined }, 3), /rhoLoss needs the irreducible-loss model's outputs for all 10 samples/);
    assert.throws(() => rhoLoss(s, 11), /11/);
  });
});

describe('twin irreducible loss', () => {
  it('scores each sample with the model trained on the other half', async () => {
    // Each model answers its own constant outputs, two classes per sample.
    const released: number[] = [];
    const model = (value: number): IrreducibleModel => ({
      outputs: async (b: Batch) => new Float32Array(2 * b.size).fill(value),
      release: async () => void released.push(value),
    });
    const batch = { size: 4, keys: Float64Array.of(10, 11, 12, 13) } as Batch;
    const twin = twinIrreducibleModel(model(1), model(2), Float64Array.of(11, 13));
    // Keys 11 and 13 trained the first model: the second scores them.
    assert.deepEqual([...await twin.outputs(batch)], [1, 1, 2, 2, 1, 1, 2, 2]);
    await assert.rejects(twin.outputs({ size: 1 } as Batch), /needs the batch's keys/);
    await twin.release();
    assert.deepEqual(released.sort(), [1, 2], 'both models\' sessions');
  });
});
