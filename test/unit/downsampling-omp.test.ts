/**
 * Non-negative OMP against a reference that solves each step's non-negative least squares exactly, by trying the
 * normal equations on every subset of the picked rows; then GradMatch on top of it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gradMatch } from '../../lib/train/downsampling/grad-match.js';
import { lastLayerGradients } from '../../lib/train/downsampling/last-layer-gradients.js';
import { orthogonalMatchingPursuit } from '../../lib/train/downsampling/omp.js';
import type { ScoredSamples } from '../../lib/train/downsampling/scored-samples.js';
import { createRng } from '../../lib/rng.js';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, e) => s + v * b[e]!, 0);

/** x with M·x = v by Gaussian elimination with partial pivoting. */
function solve(m: number[][], v: number[]): number[] {
  const a = m.map((row, i) => [...row, v[i]!]);
  const p = a.length;
  for (let c = 0; c < p; c++) {
    const pivot = a.slice(c).reduce((best, row, r) => (Math.abs(row[c]!) > Math.abs(a[best]![c]!) ? c + r : best), c);
    [a[c], a[pivot]] = [a[pivot]!, a[c]!];
    for (let r = c + 1; r < p; r++) {
      const f = a[r]![c]! / a[c]![c]!;
      for (let j = c; j <= p; j++) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  const x = new Array<number>(p).fill(0);
  for (let r = p - 1; r >= 0; r--) x[r] = (a[r]![p]! - a[r]!.slice(r + 1, p).reduce((s, v, j) => s + v * x[r + 1 + j]!, 0)) / a[r]![r]!;
  return x;
}

/** OMP where each step's NNLS is the best non-negative least-squares fit over all subsets of the picked rows. */
function referenceOmp(rows: number[][], b: number[], k: number) {
  const picked: number[] = [];
  const residualNorms: number[] = [];
  let coefficients: number[] = [];
  let residual = [...b];
  const bNorm = Math.sqrt(dot(b, b));
  while (picked.length < k) {
    let best = -1;
    for (let i = 0; i < rows.length; i++) if (!picked.includes(i) && (best < 0 || dot(rows[i]!, residual) > dot(rows[best]!, residual))) best = i;
    if (dot(rows[best]!, residual) <= 1e-9 * Math.sqrt(dot(rows[best]!, rows[best]!)) * bNorm) break;
    picked.push(best);
    let bestFit = { x: picked.map(() => 0), norm: bNorm, residual: [...b] };
    for (let mask = 1; mask < 1 << picked.length; mask++) {
      const subset = picked.map((_, a) => a).filter((a) => mask & (1 << a));
      const gram = subset.map((a) => subset.map((c) => dot(rows[picked[a]!]!, rows[picked[c]!]!)));
      const xs = solve(gram, subset.map((a) => dot(rows[picked[a]!]!, b)));
      if (xs.some((v) => v < 0)) continue;
      const r = b.map((v, e) => v - subset.reduce((s, a, j) => s + xs[j]! * rows[picked[a]!]![e]!, 0));
      const norm = Math.sqrt(dot(r, r));
      if (norm < bestFit.norm) bestFit = { x: picked.map((_, a) => (subset.includes(a) ? xs[subset.indexOf(a)]! : 0)), norm, residual: r };
    }
    coefficients = bestFit.x;
    residual = bestFit.residual;
    residualNorms.push(bestFit.norm);
  }
  return { picked, coefficients, residualNorms };
}

function randomRows(n: number, dim: number, seed: number): { data: Float32Array; rows: number[][]; target: Float64Array } {
  const rng = createRng(seed);
  const data = Float32Array.from({ length: n * dim }, () => rng.normal());
  const rows = Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * dim, (i + 1) * dim)));
  const target = new Float64Array(dim);
  for (const row of rows) row.forEach((v, e) => (target[e]! += v));
  return { data, rows, target };
}

describe('non-negative orthogonal matching pursuit', () => {
  it('matches the exact-NNLS reference: picks, coefficients and residual after every step', () => {
    let dropped = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const { data, rows, target } = randomRows(30, 9, seed);
      const got = orthogonalMatchingPursuit(data, 9, target, 7);
      const want = referenceOmp(rows, Array.from(target), 7);
      assert.deepEqual(Array.from(got.indexes), want.picked, `seed ${seed}`);
      got.residualNorms.forEach((r, s) => assert.ok(Math.abs(r - want.residualNorms[s]!) <= 1e-9 * Math.max(1, want.residualNorms[s]!), `seed ${seed} step ${s}: ${r} vs ${want.residualNorms[s]}`));
      got.coefficients.forEach((x, a) => assert.ok(Math.abs(x - want.coefficients[a]!) <= 1e-9 * Math.max(1, want.coefficients[a]!), `seed ${seed} coefficient ${a}: ${x} vs ${want.coefficients[a]}`));
      dropped += want.coefficients.filter((x) => x === 0).length;
    }
    // The instances must exercise the non-negativity constraint, not only unconstrained least squares.
    assert.ok(dropped > 0, 'no instance dropped a picked row');
  });

  it('the residual norm never increases, and stops early once no row correlates with it', () => {
    const { data, target } = randomRows(300, 25, 13);
    const { residualNorms, indexes } = orthogonalMatchingPursuit(data, 25, target, 60);
    assert.equal(residualNorms.length, indexes.length);
    for (let s = 1; s < residualNorms.length; s++) assert.ok(residualNorms[s]! <= residualNorms[s - 1]! * (1 + 1e-12), `step ${s}: ${residualNorms[s - 1]} → ${residualNorms[s]}`);
    // Rows that are all multiples of one direction: the best row alone matches their sum.
    const line = Float32Array.from({ length: 10 * 3 }, (_, j) => [1, -2, 0.5][j % 3]! * (1 + Math.floor(j / 3)));
    const sum = Float64Array.from([1, -2, 0.5], (v) => v * 55);
    const one = orthogonalMatchingPursuit(line, 3, sum, 5);
    assert.deepEqual(Array.from(one.indexes), [9]);
    assert.ok(Math.abs(one.coefficients[0]! - 5.5) < 1e-12 && one.residualNorms[0]! < 1e-12);
  });
});

describe('GradMatch', () => {
  function randomSamples(n: number, seed: number): ScoredSamples {
    const rng = createRng(seed);
    const classes = 3;
    const embeddingSize = 4;
    return {
      n, classes, embeddingSize, loss: 'softmax-ce',
      output: Float32Array.from({ length: n * classes }, () => rng.normal()),
      labels: Float64Array.from({ length: n }, () => rng.int(classes)),
      embedding: Float32Array.from({ length: n * embeddingSize }, () => rng.normal()),
    };
  }

  it('weights are the OMP coefficients matching the sum of the last-layer gradients', () => {
    const s = randomSamples(200, 1);
    const rows = lastLayerGradients(s, 'lastLayerWithEmbedding');
    const target = new Float64Array(rows.dim);
    for (let i = 0; i < s.n; i++) for (let e = 0; e < rows.dim; e++) target[e]! += rows.data[i * rows.dim + e]!;
    const omp = orthogonalMatchingPursuit(rows.data, rows.dim, target, 10);
    assert.equal(omp.indexes.length, 10);
    const picks = gradMatch(s, 10, { fullGradApproximation: 'lastLayerWithEmbedding', balance: false }, createRng(1));
    assert.deepEqual(picks.indexes, omp.indexes);
    assert.deepEqual(picks.weights, Float32Array.from(omp.coefficients));
  });

  it('once the sum is matched early, pads with distinct seeded-uniform samples at the smallest positive weight', () => {
    // bce-logits with all-zero targets: every gradient σ(z) is a positive scalar, so the largest one matches the sum alone.
    const rng = createRng(2);
    const n = 40;
    const s: ScoredSamples = {
      n, classes: 1, loss: 'bce-logits', labels: new Float64Array(n), embedding: new Float32Array(0), embeddingSize: 0,
      output: Float32Array.from({ length: n }, () => rng.normal()),
    };
    const picks = gradMatch(s, 8, { fullGradApproximation: 'lastLayer', balance: false }, createRng(3));
    const sigma = Array.from(s.output, (z) => 1 / (1 + Math.exp(-z)));
    const largest = sigma.indexOf(Math.max(...sigma));
    assert.equal(picks.indexes[0], largest);
    const weight = sigma.reduce((a, b) => a + b, 0) / sigma[largest]!;
    assert.ok(Math.abs(picks.weights[0]! - weight) < 1e-4 * weight, `${picks.weights[0]} vs ${weight}`);
    assert.deepEqual(Array.from(picks.weights), new Array(8).fill(picks.weights[0]));
    assert.equal(new Set(picks.indexes).size, 8);
    assert.deepEqual(gradMatch(s, 8, { fullGradApproximation: 'lastLayer', balance: false }, createRng(3)), picks);
    assert.notDeepEqual(gradMatch(s, 8, { fullGradApproximation: 'lastLayer', balance: false }, createRng(4)).indexes, picks.indexes);
  });

  it('balance: each label gets its proportional share and matches its own gradient sum', () => {
    const s = randomSamples(120, 5);
    const picks = gradMatch(s, 12, { fullGradApproximation: 'lastLayer', balance: true }, createRng(1));
    assert.equal(picks.indexes.length, 12);
    for (let y = 0; y < 3; y++) {
      const members = Array.from({ length: s.n }, (_, i) => i).filter((i) => s.labels[i] === y);
      const mine = Array.from(picks.indexes).filter((i) => s.labels[i] === y);
      const exact = (12 * members.length) / s.n;
      assert.ok(mine.length === Math.floor(exact) || mine.length === Math.ceil(exact), `label ${y}: ${mine.length} for ${exact}`);
    }
  });
});
