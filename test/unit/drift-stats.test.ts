import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  bonferroni, cvm2samp, fdr, featureDrift, hellinger, kolmogorovSf, ks2samp, matrix, meanDistance, type Matrix,
} from '../../lib/eval/drift/index.js';
import { createRng } from '../../lib/rng.js';

/** A sample stored as values, or as the Weyl-sequence recipe of scripts/drift-fixtures.py. */
type Sample = number[] | { n: number; mul: number; mod: number; offset: number; curve: number; shift: number };
interface Result { statistic: number; pValue: number }
interface Fixtures {
  scipy: string;
  cases: { name: string; a: Sample; b: Sample; ks: Result; cvm: Result }[];
  kstwo: { n: number; x: number; sf: number }[];
}

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/drift/ks-cvm.json', import.meta.url), 'utf8')) as Fixtures;

/** Same IEEE operations, in the same order, as the script's numpy expression, so the same doubles. */
function expand(s: Sample): Float64Array {
  if (Array.isArray(s)) return Float64Array.from(s);
  const out = new Float64Array(s.n);
  for (let i = 0; i < s.n; i++) {
    const u = ((i * s.mul + s.offset) % s.mod) / s.mod;
    out[i] = u + s.curve * (u * u - u) + s.shift;
  }
  return out;
}

/**
 * Statistics are the same finite sums (KS: a difference of two ECDF fractions, CvM: a sum of squared rank gaps),
 * so they agree to rounding: 1e-12 relative. P-values agree to 1e-6 relative; an absolute 1e-12 covers those that
 * scipy computes as 1 − cdf, where both sides carry ~1e-16 of absolute rounding however small the p-value.
 */
function assertMatches(got: Result, want: Result, what: string): void {
  const statisticError = Math.abs(got.statistic - want.statistic);
  assert.ok(statisticError <= 1e-12 * Math.max(1, Math.abs(want.statistic)), `${what} statistic ${got.statistic} vs scipy ${want.statistic}`);
  assert.ok(Math.abs(got.pValue - want.pValue) <= 1e-6 * want.pValue + 1e-12, `${what} p-value ${got.pValue} vs scipy ${want.pValue}`);
}

describe(`KS and CvM against scipy ${fixtures.scipy} (test/fixtures/drift/ks-cvm.json)`, () => {
  for (const c of fixtures.cases) {
    it(c.name, () => {
      const [a, b] = [expand(c.a), expand(c.b)];
      assertMatches(ks2samp(a, b), c.ks, 'ks');
      assertMatches(cvm2samp(a, b), c.cvm, 'cvm');
    });
  }

  it('kstwo survival function in each of its branches', () => {
    for (const { n, x, sf } of fixtures.kstwo) {
      const got = kolmogorovSf(n, x);
      assert.ok(Math.abs(got - sf) <= 1e-6 * sf + 1e-12, `kstwo.sf(${x}, ${n}) = ${got} vs scipy ${sf}`);
    }
  });

  it('rejects samples the tests cannot take', () => {
    assert.throws(() => ks2samp([], [1]), /empty/);
    assert.throws(() => cvm2samp([1], [1, 2]), /at least two/);
  });
});

describe('multiple-testing corrections', () => {
  it('Bonferroni multiplies by the number of tests, capped at 1', () => {
    const r = bonferroni([0.01, 0.02, 0.5, 0.004], 0.05);
    assert.deepEqual(Array.from(r.adjusted), [0.04, 0.08, 1, 0.016]);
    assert.equal(r.rejected, 2);
    assert.equal(r.drift, true);
    assert.equal(bonferroni([0.02, 0.03], 0.04).drift, false, '0.04 and 0.06 are not below 0.04');
  });

  it('Benjamini–Hochberg takes running minima of p·k/rank from the largest p down', () => {
    // Sorted with p·k/rank: 0.001 → 0.005, 0.008 → 0.02, 0.032 → 0.0533, 0.039 → 0.04875, 0.6 → 0.6.
    // Running minima from the top: 0.6, 0.04875, 0.04875, 0.02, 0.005.
    const p = [0.039, 0.6, 0.001, 0.032, 0.008];
    const r = fdr(p, 0.05);
    const want = [0.04875, 0.6, 0.005, 0.04875, 0.02];
    r.adjusted.forEach((q, i) => assert.ok(Math.abs(q - want[i]!) < 1e-15, `adjusted[${i}] = ${q}, want ${want[i]}`));
    assert.equal(r.rejected, 4, 'step-up: p₍₄₎ = 0.039 < 0.05·4/5 rejects ranks 1–4, including 0.032 above its own bound 0.03');
    assert.equal(bonferroni(p, 0.05).rejected, 2, 'Bonferroni is stricter');
    assert.equal(fdr([0.2, 0.3], 0.05).drift, false);
    assert.throws(() => fdr([0.1], 0), /alpha/);
  });
});

function gaussian(rows: number, cols: number, seed: number, shift = 0): Matrix {
  const rng = createRng(seed);
  return matrix(Float32Array.from({ length: rows * cols }, () => rng.normal() + shift), rows, cols);
}

describe('featureDrift', () => {
  it('runs one test per column and corrects across them', () => {
    const [ref, cur] = [gaussian(200, 6, 1), gaussian(150, 6, 2)];
    // Shift one column of the current window only.
    const shifted = matrix(cur.data.map((v, i) => (i % 6 === 3 ? v + 1 : v)), 150, 6);
    for (const test of ['ks', 'cvm'] as const) {
      const run = test === 'ks' ? ks2samp : cvm2samp;
      const columns = (m: Matrix, c: number) => Array.from({ length: m.rows }, (_, r) => m.data[r * m.cols + c]!);
      const perColumn = Array.from({ length: 6 }, (_, c) => run(columns(ref, c), columns(shifted, c)));
      const got = featureDrift(ref, shifted, test, { correction: 'bonferroni', pValue: 0.05 });
      assert.ok(Math.abs(got.statistic - perColumn.reduce((s, r) => s + r.statistic, 0) / 6) < 1e-15);
      assert.equal(got.minPValue, Math.min(...bonferroni(perColumn.map((r) => r.pValue), 0.05).adjusted));
      assert.equal(got.driftedDims, 1, test);
      assert.equal(got.drift, true);
      const none = featureDrift(ref, cur, test, { correction: 'fdr', pValue: 0.05 });
      assert.equal(none.drift, false, `${test}: no shift, no drift (min adjusted p ${none.minPValue})`);
    }
  });
});

describe('hellinger', () => {
  it('is 0 for identical windows, 1 for disjoint ones, and the mean over columns', () => {
    const ref = matrix(Float32Array.of(0, 5, 1, 5, 2, 5, 3, 5), 4, 2);
    assert.equal(hellinger(ref, ref), 0);
    const far = matrix(Float32Array.of(10, 5, 11, 5), 2, 2);
    // Column 0: ref fills the lowest bins, cur the highest: disjoint, 1. Column 1: constant, 0.
    assert.ok(Math.abs(hellinger(ref, far) - 0.5) < 1e-15);
  });

  it('matches a hand count', () => {
    // One column over [0, 4], two bins [0, 2) and [2, 4]: ref 0,1,1,3 → (3/4, 1/4); cur 2,3,4,4 → (0, 1).
    // H² = ½((√¾ − 0)² + (√¼ − 1)²) = ½(¾ + ¼) = ½.
    const ref = matrix(Float32Array.of(0, 1, 1, 3), 4, 1);
    const cur = matrix(Float32Array.of(2, 3, 4, 4), 4, 1);
    assert.ok(Math.abs(hellinger(ref, cur, { bins: 2 }) - Math.sqrt(0.5)) < 1e-15);
    assert.throws(() => hellinger(ref, cur, { bins: 0 }), /bins/);
  });
});

describe('meanDistance', () => {
  it('is the Euclidean distance of the column means', () => {
    const ref = matrix(Float32Array.of(0, 0, 2, 2), 2, 2);
    const cur = matrix(Float32Array.of(4, 5, 4, 5, 4, 5), 3, 2);
    assert.equal(meanDistance(ref, cur), 5);
    assert.equal(meanDistance(ref, ref), 0);
    assert.throws(() => meanDistance(ref, matrix(Float32Array.of(1, 2, 3), 1, 3)), /differ in width/);
    assert.throws(() => meanDistance(ref, matrix(Float32Array.of(NaN, 2), 1, 2)), /non-finite/);
  });
});
