/** k-center greedy against a brute-force greedy that recomputes every distance to the chosen set each round. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kCenterGreedy, kCenters } from '../../lib/train/downsampling/kcenter-greedy.js';
import type { ScoredSamples } from '../../lib/train/downsampling/scored-samples.js';
import { createRng } from '../../lib/rng.js';

function randomSamples(n: number, seed: number, embeddingSize = 5, classes = 3): ScoredSamples {
  const rng = createRng(seed);
  const output = Float32Array.from({ length: n * classes }, () => rng.normal());
  const labels = Float64Array.from({ length: n }, () => rng.int(classes));
  const embedding = Float32Array.from({ length: n * embeddingSize }, () => rng.normal());
  return { n, output, classes, loss: 'softmax-ce', labels, embedding, embeddingSize };
}

/** Each round: every unchosen point's distance to its nearest chosen point, from scratch; the farthest wins. */
function bruteForce(points: Float32Array, dim: number, k: number, start: number): number[] {
  const n = points.length / dim;
  const distance = (i: number, j: number) => {
    let d = 0;
    for (let e = 0; e < dim; e++) d += (points[i * dim + e]! - points[j * dim + e]!) ** 2;
    return Math.sqrt(d);
  };
  const chosen = [start];
  while (chosen.length < k) {
    let best = -1;
    let bestDistance = -1;
    for (let i = 0; i < n; i++) {
      if (chosen.includes(i)) continue;
      const d = Math.min(...chosen.map((c) => distance(i, c)));
      if (d > bestDistance) [best, bestDistance] = [i, d];
    }
    chosen.push(best);
  }
  return chosen;
}

describe('k-center greedy', () => {
  it('equals the brute-force greedy from the same start', () => {
    for (const seed of [1, 2, 3]) {
      const s = randomSamples(150, seed);
      for (const start of [0, 77, 149]) {
        assert.deepEqual(Array.from(kCenters(s.embedding, s.embeddingSize, 25, start)), bruteForce(s.embedding, s.embeddingSize, 25, start));
      }
    }
  });

  it('starts from a seeded random sample, then follows the greedy; weights 1; same seed, same picks', () => {
    const s = randomSamples(120, 4);
    const picks = kCenterGreedy(s, 30, { balance: false }, createRng(9));
    assert.equal(picks.indexes[0], createRng(9).int(120));
    assert.deepEqual(Array.from(picks.indexes), bruteForce(s.embedding, 5, 30, picks.indexes[0]!));
    assert.deepEqual(Array.from(picks.weights), new Array(30).fill(1));
    assert.deepEqual(kCenterGreedy(s, 30, { balance: false }, createRng(9)), picks);
  });

  it('never repeats a pick, even when every embedding is the same', () => {
    const s = randomSamples(20, 5);
    s.embedding.fill(0.5);
    const picks = Array.from(kCenterGreedy(s, 20, { balance: false }, createRng(1)).indexes);
    assert.equal(new Set(picks).size, 20);
  });

  it('balance: each label gets its proportional share, chosen by the greedy among that label', () => {
    const s = randomSamples(90, 6);
    const picks = Array.from(kCenterGreedy(s, 20, { balance: true }, createRng(2)).indexes);
    assert.equal(picks.length, 20);
    for (let y = 0; y < 3; y++) {
      const members = Array.from({ length: s.n }, (_, i) => i).filter((i) => s.labels[i] === y);
      const mine = picks.filter((i) => s.labels[i] === y);
      const exact = (20 * members.length) / s.n;
      assert.ok(mine.length === Math.floor(exact) || mine.length === Math.ceil(exact), `label ${y}: ${mine.length} for ${exact}`);
      const points = Float32Array.from(members.flatMap((i) => Array.from(s.embedding.subarray(i * 5, i * 5 + 5))));
      assert.deepEqual(mine, bruteForce(points, 5, mine.length, members.indexOf(mine[0]!)).map((r) => members[r]!));
    }
  });

  it('k outside [1, n] and missing embeddings are errors', () => {
    const s = randomSamples(10, 7);
    assert.throws(() => kCenterGreedy(s, 11, { balance: false }, createRng(1)), /k = 11 must be an integer in \[1, 10\]/);
    assert.throws(() => kCenterGreedy({ ...s, embedding: new Float32Array(0), embeddingSize: 0 }, 2, { balance: false }, createRng(1)), /needs embeddings/);
  });
});
