/** CRAIG against a brute-force facility-location greedy on Euclidean gradient distances; weights are cluster sizes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { craig } from '../../lib/train/downsampling/craig.js';
import { lastLayerGradients } from '../../lib/train/downsampling/last-layer-gradients.js';
import { subsetSamples, type ScoredSamples } from '../../lib/train/downsampling/scored-samples.js';
import { createRng } from '../../lib/rng.js';

function randomSamples(n: number, seed: number): ScoredSamples {
  const rng = createRng(seed);
  const classes = 3;
  return {
    n, classes, loss: 'softmax-ce', embeddingSize: 3,
    output: Float32Array.from({ length: n * classes }, () => 2 * rng.normal()),
    labels: Float64Array.from({ length: n }, () => rng.int(classes)),
    embedding: Float32Array.from({ length: n * 3 }, () => rng.normal()),
  };
}

/** Facility location on max distance − distance, gains from scratch each round (ties: lower index); then each sample's nearest pick. */
function bruteForceCraig(rows: number[][], k: number): { picks: number[]; sizes: number[] } {
  const n = rows.length;
  const distance = (i: number, j: number) => Math.hypot(...rows[i]!.map((v, e) => v - rows[j]![e]!));
  let max = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) max = Math.max(max, distance(i, j));
  const f = (a: number[]) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += a.length ? Math.max(...a.map((j) => max - distance(i, j))) : 0;
    return sum;
  };
  const picks: number[] = [];
  while (picks.length < k) {
    const gains = Array.from({ length: n }, (_, c) => (picks.includes(c) ? -Infinity : f([...picks, c]) - f(picks)));
    const top = Math.max(...gains);
    // Facility location has exact ties (two samples that only cover each other); the library breaks them on
    // float32 similarities, this on float64 ones, so a gain within rounding of the best counts as tied.
    picks.push(gains.findIndex((g) => g >= top - 1e-5 * Math.abs(top)));
  }
  const sizes = picks.map(() => 0);
  for (let i = 0; i < n; i++) {
    const own = picks.indexOf(i);
    const nearest = own >= 0 ? own : picks.reduce((b, p, r) => (distance(i, p) < distance(i, picks[b]!) ? r : b), 0);
    sizes[nearest]!++;
  }
  return { picks, sizes };
}

const rowsOf = (s: ScoredSamples, approximation: 'lastLayer' | 'lastLayerWithEmbedding') => {
  const { data, dim } = lastLayerGradients(s, approximation);
  return Array.from({ length: s.n }, (_, i) => Array.from(data.subarray(i * dim, (i + 1) * dim)));
};

describe('CRAIG', () => {
  for (const fullGradApproximation of ['lastLayer', 'lastLayerWithEmbedding'] as const) {
    it(`${fullGradApproximation}: picks equal the brute-force greedy, weights are cluster sizes summing to n`, () => {
      for (const seed of [1, 2]) {
        const s = randomSamples(50, seed);
        for (const greedy of ['naive', 'lazy'] as const) {
          const picks = craig(s, 9, { greedy, selectionBatch: 64, fullGradApproximation, balance: false }, createRng(1));
          const want = bruteForceCraig(rowsOf(s, fullGradApproximation), 9);
          assert.deepEqual(Array.from(picks.indexes), want.picks, `seed ${seed} ${greedy}`);
          assert.deepEqual(Array.from(picks.weights), want.sizes, `seed ${seed} ${greedy}`);
          assert.equal(want.sizes.reduce((a, b) => a + b, 0), 50);
        }
      }
    });
  }

  it('per block of selectionBatch, picks are the block\'s own greedy and weights sum to the block size', () => {
    const s = randomSamples(70, 3);
    const picks = craig(s, 14, { greedy: 'lazy', selectionBatch: 25, fullGradApproximation: 'lastLayer', balance: false }, createRng(1));
    const blocks = [[0, 25, 5], [25, 50, 5], [50, 70, 4]] as const;
    let r = 0;
    for (const [start, end, share] of blocks) {
      const block = Uint32Array.from({ length: end - start }, (_, i) => start + i);
      const want = bruteForceCraig(rowsOf(subsetSamples(s, block), 'lastLayer'), share);
      assert.deepEqual(Array.from(picks.indexes.subarray(r, r + share)), want.picks.map((i) => start + i));
      assert.equal(picks.weights.subarray(r, r + share).reduce((a, b) => a + b, 0), end - start);
      r += share;
    }
  });

  it('stochastic greedy repeats per seed; balance keeps every label\'s share and weights sum to n', () => {
    const s = randomSamples(90, 4);
    const options = { greedy: 'stochastic', selectionBatch: 64, fullGradApproximation: 'lastLayer', balance: true } as const;
    const picks = craig(s, 18, options, createRng(3));
    assert.deepEqual(craig(s, 18, options, createRng(3)), picks);
    assert.equal(picks.weights.reduce((a, b) => a + b, 0), 90);
    for (let y = 0; y < 3; y++) {
      const size = Array.from(s.labels).filter((l) => l === y).length;
      const mine = Array.from(picks.indexes).filter((i) => s.labels[i] === y).length;
      assert.ok(mine === Math.floor((18 * size) / 90) || mine === Math.ceil((18 * size) / 90), `label ${y}: ${mine} of ${size}`);
    }
  });
});
