/**
 * Importance sampling ∝ loss / gradient norm: over many seeded runs the weights sum to n and the weighted loss
 * estimates the total loss without bias, picks follow the score, and bad scores fail naming the sample.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gradNormImportance } from '../../lib/train/downsampling/grad-norm-importance.js';
import { importanceSample } from '../../lib/train/downsampling/importance-sampling.js';
import { gradientNorms } from '../../lib/train/downsampling/last-layer-gradients.js';
import { lossImportance } from '../../lib/train/downsampling/loss-importance.js';
import { perSampleLoss } from '../../lib/train/downsampling/per-sample-loss.js';
import type { Picks, ScoredSamples } from '../../lib/train/downsampling/scored-samples.js';
import { createRng, type Rng } from '../../lib/rng.js';

function randomSamples(n: number, seed: number): ScoredSamples {
  const rng = createRng(seed);
  const classes = 5;
  const output = Float32Array.from({ length: n * classes }, () => 2 * rng.normal());
  const labels = Float64Array.from({ length: n }, () => rng.int(classes));
  return { n, output, classes, loss: 'softmax-ce', labels, embedding: new Float32Array(0), embeddingSize: 0 };
}

const runs = 2000;

function monteCarlo(select: (rng: Rng) => Picks, scores: Float64Array) {
  let weightSum = 0;
  let estimate = 0;
  const counts = new Float64Array(scores.length);
  for (let run = 0; run < runs; run++) {
    const { indexes, weights } = select(createRng(run));
    indexes.forEach((i, r) => {
      weightSum += weights[r]!;
      estimate += weights[r]! * scores[i]!;
      counts[i]!++;
    });
  }
  return { meanWeightSum: weightSum / runs, meanEstimate: estimate / runs, counts };
}

describe('importance sampling', () => {
  const s = randomSamples(60, 1);
  const k = 12;
  for (const [name, select, scoreOf] of [
    ['loss', (rng: Rng) => lossImportance(s, k, rng), perSampleLoss],
    ['gradNorm', (rng: Rng) => gradNormImportance(s, k, rng), gradientNorms],
  ] as const) {
    it(`${name}: Σw ≈ n, Σw·score ≈ Σscore, and pick frequencies ∝ score over ${runs} seeded runs`, () => {
      const scores = scoreOf(s);
      const total = scores.reduce((a, b) => a + b, 0);
      const { meanWeightSum, meanEstimate, counts } = monteCarlo(select, scores);
      assert.ok(Math.abs(meanWeightSum / s.n - 1) < 0.02, `mean Σw ${meanWeightSum} vs n ${s.n}`);
      assert.ok(Math.abs(meanEstimate / total - 1) < 0.03, `mean Σw·score ${meanEstimate} vs Σscore ${total}`);
      for (let i = 0; i < s.n; i++) {
        // Binomial count: within 5 standard deviations of runs·k·p_i.
        const expected = (runs * k * scores[i]!) / total;
        assert.ok(Math.abs(counts[i]! - expected) <= 5 * Math.sqrt(expected) + 1, `sample ${i}: ${counts[i]} picks, expected ${expected.toFixed(1)}`);
      }
    });
  }

  it('each weight is 1/(k·p) and picks repeat for the same seed', () => {
    const scores = Float64Array.from([1, 2, 3, 4]);
    const picks = importanceSample(scores, 3, createRng(7), 'score');
    picks.indexes.forEach((i, r) => assert.ok(Math.abs(picks.weights[r]! - 10 / (3 * scores[i]!)) < 1e-6));
    assert.deepEqual(importanceSample(scores, 3, createRng(7), 'score'), picks);
  });

  it('never picks a zero score, and falls back to uniform when every score is zero', () => {
    const scores = Float64Array.from({ length: 20 }, (_, i) => (i % 4 === 0 ? 0 : i));
    const { counts } = monteCarlo((rng) => importanceSample(scores, 5, rng, 'score'), scores);
    for (let i = 0; i < 20; i += 4) assert.equal(counts[i], 0, `zero-score sample ${i} picked`);
    const zeros = new Float64Array(10);
    const uniform = monteCarlo((rng) => importanceSample(zeros, 4, rng, 'score'), zeros);
    for (let i = 0; i < 10; i++) assert.ok(Math.abs(uniform.counts[i]! - 800) < 5 * Math.sqrt(800), `sample ${i}: ${uniform.counts[i]}`);
    assert.deepEqual(Array.from(importanceSample(zeros, 4, createRng(1), 'score').weights), [2.5, 2.5, 2.5, 2.5]);
  });

  it('a NaN, infinite or negative score is an error naming the sample', () => {
    for (const [bad, text] of [[NaN, 'NaN'], [Infinity, 'Infinity'], [-1, '-1']] as const) {
      const scores = Float64Array.from([1, 2, 3, 4, 5, 6]);
      scores[4] = bad;
      assert.throws(() => importanceSample(scores, 2, createRng(1), 'loss'), new RegExp(`the loss of sample 4 is ${text}`));
    }
  });

  it('k outside [1, n] is an error naming k', () => {
    for (const k of [0, 61, 1.5]) assert.throws(() => lossImportance(s, k, createRng(1)), new RegExp(`k = ${k} must be an integer in \\[1, 60\\]`));
  });
});
