/**
 * Submodular functions and greedy optimizers: incremental gains equal f(A ∪ {c}) − f(A) from scratch, lazy greedy
 * picks exactly what naive greedy picks, stochastic greedy keeps the (1 − 1/e − ε) guarantee; then the Submodular
 * strategy's blocks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { facilityLocation } from '../../lib/train/downsampling/facility-location.js';
import { graphCut } from '../../lib/train/downsampling/graph-cut.js';
import { lazyGreedy, naiveGreedy, stochasticGreedy, type SubmodularFunction } from '../../lib/train/downsampling/greedy.js';
import { gradientSpace, type GradientSpace } from '../../lib/train/downsampling/last-layer-gradients.js';
import { logDeterminant } from '../../lib/train/downsampling/log-determinant.js';
import { subsetSamples, type ScoredSamples } from '../../lib/train/downsampling/scored-samples.js';
import { cosineSimilarity, distanceSimilarity, type Similarity } from '../../lib/train/downsampling/similarity.js';
import { submodular } from '../../lib/train/downsampling/submodular.js';
import { createRng } from '../../lib/rng.js';

function randomRows(n: number, dim: number, seed: number) {
  const rng = createRng(seed);
  return { data: Float32Array.from({ length: n * dim }, () => rng.normal()), dim };
}

/** Explicit rows as the inner products the similarities read. */
function spaceOf({ data, dim }: { data: Float32Array; dim: number }): GradientSpace {
  return {
    size: data.length / dim,
    dot: (i, j) => data.subarray(i * dim, (i + 1) * dim).reduce((s, v, e) => s + v * data[j * dim + e]!, 0),
  };
}

const at = (s: Similarity, i: number, j: number) => s.values[i * s.size + j]!;

/** The definitions, from scratch. */
const definitions: Record<string, (s: Similarity, a: number[]) => number> = {
  facilityLocation: (s, a) => {
    let f = 0;
    for (let i = 0; i < s.size; i++) f += a.length ? Math.max(...a.map((j) => at(s, i, j))) : 0;
    return f;
  },
  graphCut: (s, a) => {
    let f = 0;
    for (let i = 0; i < s.size; i++) for (const j of a) f += at(s, i, j);
    for (const i of a) for (const j of a) f -= at(s, i, j);
    return f;
  },
  logDeterminant: (s, a) => {
    // Cholesky of S_AA + I: log det = 2 Σ log L_ii.
    const m = a.length;
    const l = Array.from({ length: m }, () => new Array<number>(m).fill(0));
    let logDet = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j <= i; j++) {
        let v = at(s, a[i]!, a[j]!) + (i === j ? 1 : 0);
        for (let t = 0; t < j; t++) v -= l[i]![t]! * l[j]![t]!;
        l[i]![j] = i === j ? Math.sqrt(v) : v / l[j]![j]!;
      }
      logDet += 2 * Math.log(l[i]![i]!);
    }
    return logDet;
  },
};
const builders: Record<string, (s: Similarity) => SubmodularFunction<unknown>> = { facilityLocation, graphCut, logDeterminant };

/** Greedy on marginal gains evaluated from scratch: f(A ∪ {c}) − f(A), ties to the lower index. */
function bruteForceGreedy(f: (a: number[]) => number, size: number, k: number): number[] {
  const chosen: number[] = [];
  while (chosen.length < k) {
    const base = f(chosen);
    const gains = Array.from({ length: size }, (_, c) => (chosen.includes(c) ? -Infinity : f([...chosen, c]) - base));
    const top = Math.max(...gains);
    // A difference of two sums rounds differently from an incremental gain, so exact ties (facility location has
    // them: two samples covering only each other) count as ties within rounding.
    chosen.push(gains.findIndex((g) => g >= top - 1e-9 * Math.max(1, Math.abs(top))));
  }
  return chosen;
}

describe('similarity', () => {
  it('cosine is 0.5 + 0.5·cos, a zero row at cosine 0; distance is max distance − distance', () => {
    const rows = randomRows(12, 4, 1);
    rows.data.fill(0, 5 * 4, 6 * 4);
    const cosine = cosineSimilarity(spaceOf(rows));
    const distance = distanceSimilarity(spaceOf(rows));
    const row = (i: number) => Array.from(rows.data.subarray(i * 4, i * 4 + 4));
    const norm = (v: number[]) => Math.hypot(...v);
    const dist = (i: number, j: number) => norm(row(i).map((v, e) => v - row(j)[e]!));
    let max = 0;
    for (let i = 0; i < 12; i++) for (let j = 0; j < 12; j++) max = Math.max(max, dist(i, j));
    for (let i = 0; i < 12; i++) {
      for (let j = 0; j < 12; j++) {
        const cos = i === 5 || j === 5 ? 0 : row(i).reduce((s, v, e) => s + v * row(j)[e]!, 0) / (norm(row(i)) * norm(row(j)));
        assert.ok(Math.abs(at(cosine, i, j) - (0.5 + 0.5 * cos)) < 1e-6, `cosine ${i},${j}`);
        assert.ok(Math.abs(at(distance, i, j) - (max - dist(i, j))) < 1e-5, `distance ${i},${j}`);
      }
    }
  });
});

describe('greedy maximization', () => {
  for (const name of Object.keys(builders)) {
    it(`${name}: naive greedy equals the from-scratch greedy, and lazy greedy equals naive`, () => {
      for (const seed of [1, 2, 3]) {
        const s = cosineSimilarity(spaceOf(randomRows(40, 6, seed)));
        const naive = Array.from(naiveGreedy(builders[name]!(s), 12));
        assert.deepEqual(naive, bruteForceGreedy((a) => definitions[name]!(s, a), s.size, 12), `seed ${seed}`);
        assert.deepEqual(Array.from(lazyGreedy(builders[name]!(s), 12)), naive, `seed ${seed}`);
      }
    });

    it(`${name}: lazy equals naive on a larger instance full of exact ties (duplicated rows)`, () => {
      const base = randomRows(60, 8, 4);
      const data = new Float32Array(240 * 8);
      for (let copy = 0; copy < 4; copy++) data.set(base.data, copy * base.data.length);
      const s = cosineSimilarity(spaceOf({ data, dim: 8 }));
      const naive = naiveGreedy(builders[name]!(s), 70);
      assert.deepEqual(lazyGreedy(builders[name]!(s), 70), naive);
      assert.equal(new Set(naive).size, 70);
    });
  }

  it('stochastic greedy reaches (1 − 1/e − ε) of naive greedy\'s value and repeats per seed', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const s = distanceSimilarity(spaceOf(randomRows(200, 5, seed)));
      const f = (a: ArrayLike<number>) => definitions.facilityLocation!(s, Array.from(a));
      const naive = f(naiveGreedy(facilityLocation(s), 15));
      const picks = stochasticGreedy(facilityLocation(s), 15, createRng(seed));
      assert.equal(new Set(picks).size, 15);
      assert.ok(f(picks) >= (1 - 1 / Math.E - 0.01) * naive, `seed ${seed}: ${f(picks)} vs naive ${naive}`);
      assert.deepEqual(stochasticGreedy(facilityLocation(s), 15, createRng(seed)), picks);
    }
  });
});

describe('Submodular strategy', () => {
  function randomSamples(n: number, seed: number): ScoredSamples {
    const rng = createRng(seed);
    const classes = 4;
    return {
      n, classes, loss: 'softmax-ce', embeddingSize: 2,
      output: Float32Array.from({ length: n * classes }, () => rng.normal()),
      labels: Float64Array.from({ length: n }, () => rng.int(classes)),
      embedding: Float32Array.from({ length: n * 2 }, () => rng.normal()),
    };
  }

  it('each block of selectionBatch samples picks its proportional share by greedy on its own similarities', () => {
    const s = randomSamples(100, 1);
    for (const submodularFunction of ['facilityLocation', 'graphCut', 'logDeterminant'] as const) {
      const picks = submodular(s, 20, { submodularFunction, greedy: 'lazy', selectionBatch: 30, fullGradApproximation: 'lastLayerWithEmbedding', balance: false }, createRng(1));
      assert.deepEqual(Array.from(picks.weights), new Array(20).fill(1));
      const shares = [6, 6, 6, 2];
      let r = 0;
      shares.forEach((share, b) => {
        const block = Uint32Array.from({ length: Math.min(30, 100 - 30 * b) }, (_, i) => 30 * b + i);
        const similarity = cosineSimilarity(gradientSpace(subsetSamples(s, block), 'lastLayerWithEmbedding'));
        const want = Array.from(naiveGreedy(builders[submodularFunction]!(similarity), share), (i) => block[i]!);
        assert.deepEqual(Array.from(picks.indexes.subarray(r, r + share)), want, `${submodularFunction} block ${b}`);
        r += share;
      });
    }
  });

  it('balance splits k over the labels first; stochastic greedy repeats per seed', () => {
    const s = randomSamples(90, 2);
    const options = { submodularFunction: 'facilityLocation', greedy: 'stochastic', selectionBatch: 16, fullGradApproximation: 'lastLayer', balance: true } as const;
    const picks = submodular(s, 30, options, createRng(5));
    assert.equal(new Set(picks.indexes).size, 30);
    for (let y = 0; y < 4; y++) {
      const size = Array.from(s.labels).filter((l) => l === y).length;
      const mine = Array.from(picks.indexes).filter((i) => s.labels[i] === y).length;
      assert.ok(mine === Math.floor((30 * size) / 90) || mine === Math.ceil((30 * size) / 90), `label ${y}: ${mine} of ${size}`);
    }
    assert.deepEqual(submodular(s, 30, options, createRng(5)), picks);
  });
});
