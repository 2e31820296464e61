/** Uncertainty downsampling equals sorting by each metric computed naively; balance splits k over the labels. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ScoredSamples } from '../../lib/train/downsampling/scored-samples.js';
import { uncertainty, type ScoreMetric } from '../../lib/train/downsampling/uncertainty.js';
import { createRng } from '../../lib/rng.js';

function randomSamples(n: number, seed: number, loss: 'softmax-ce' | 'bce-logits', classes = loss === 'softmax-ce' ? 4 : 1): ScoredSamples {
  const rng = createRng(seed);
  const output = Float32Array.from({ length: n * classes }, () => 2 * rng.normal());
  const labels = Float64Array.from({ length: n }, () => rng.int(loss === 'softmax-ce' ? classes : 2));
  return { n, output, classes, loss, labels, embedding: new Float32Array(0), embeddingSize: 0 };
}

/** Probabilities the plain way, then the metric, higher = more uncertain. */
function referenceScore(s: ScoredSamples, i: number, metric: ScoreMetric): number {
  let p: number[];
  if (s.loss === 'softmax-ce') {
    const e = Array.from(s.output.subarray(i * s.classes, (i + 1) * s.classes), Math.exp);
    const sum = e.reduce((a, b) => a + b, 0);
    p = e.map((v) => v / sum);
  } else {
    const q = 1 / (1 + Math.exp(-s.output[i]!));
    p = [1 - q, q];
  }
  const sorted = [...p].sort((a, b) => b - a);
  if (metric === 'leastConfidence') return 1 - sorted[0]!;
  if (metric === 'entropy') return -p.reduce((h, q) => h + q * Math.log(q), 0);
  return -(sorted[0]! - sorted[1]!);
}

function referenceTopK(s: ScoredSamples, k: number, metric: ScoreMetric, among = Array.from({ length: s.n }, (_, i) => i)): number[] {
  return among.map((i) => [i, referenceScore(s, i, metric)] as const).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k).map(([i]) => i);
}

const metrics: ScoreMetric[] = ['leastConfidence', 'entropy', 'margin'];

describe('uncertainty', () => {
  for (const loss of ['softmax-ce', 'bce-logits'] as const) {
    for (const scoreMetric of metrics) {
      it(`${loss} ${scoreMetric}: the k most uncertain by the definition, most uncertain first, weights 1`, () => {
        const s = randomSamples(80, 1, loss);
        const picks = uncertainty(s, 17, { scoreMetric, balance: false });
        assert.deepEqual(Array.from(picks.indexes), referenceTopK(s, 17, scoreMetric));
        assert.deepEqual(Array.from(picks.weights), new Array(17).fill(1));
      });
    }
  }

  it('ties go to the lower index', () => {
    const s = randomSamples(6, 2, 'softmax-ce', 2);
    s.output.set([0, 0, 1, 3, 0, 0, 2, 0, 0, 0, 5, 5]);
    for (const scoreMetric of metrics) assert.deepEqual(Array.from(uncertainty(s, 4, { scoreMetric, balance: false }).indexes), [0, 2, 4, 5], scoreMetric);
  });

  it('balance: each label gets its proportional share, summing to k, and its own most uncertain samples', () => {
    const s = randomSamples(101, 3, 'softmax-ce');
    const members = [0, 1, 2, 3].map((y) => Array.from({ length: s.n }, (_, i) => i).filter((i) => s.labels[i] === y));
    for (const k of [1, 10, 37, 101]) {
      const picks = Array.from(uncertainty(s, k, { scoreMetric: 'entropy', balance: true }).indexes);
      assert.equal(picks.length, k);
      let total = 0;
      for (const [y, ids] of members.entries()) {
        const mine = picks.filter((i) => s.labels[i] === y);
        const exact = (k * ids.length) / s.n;
        assert.ok(mine.length === Math.floor(exact) || mine.length === Math.ceil(exact), `k ${k} label ${y}: ${mine.length} picks for a share of ${exact}`);
        assert.deepEqual(mine, referenceTopK(s, mine.length, 'entropy', ids));
        total += mine.length;
      }
      assert.equal(total, k);
    }
  });

  it('a regression model has no class probabilities', () => {
    const s: ScoredSamples = { ...randomSamples(5, 4, 'bce-logits'), loss: 'mse', labels: [0.5, 1, 2, 3, 4] };
    assert.throws(() => uncertainty(s, 2, { scoreMetric: 'entropy', balance: false }), /uncertainty needs class probabilities/);
  });
});
