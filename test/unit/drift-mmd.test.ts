import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MmdKernel, mmdThreshold, type Matrix, type MmdResult } from '../../lib/eval/drift/index.js';
import { SessionHost } from '../../lib/onnx/session-host.js';
import { createRng } from '../../lib/rng.js';

/** rows × cols standard normals plus `shift` on every value, seeded. */
function gaussian(rows: number, cols: number, seed: number, shift = 0): Matrix {
  const rng = createRng(seed);
  return { data: Float32Array.from({ length: rows * cols }, () => rng.normal() + shift), rows, cols };
}

function sqDist(a: Matrix, i: number, b: Matrix, j: number): number {
  let s = 0;
  for (let c = 0; c < a.cols; c++) {
    const t = a.data[i * a.cols + c]! - b.data[j * b.cols + c]!;
    s += t * t;
  }
  return s;
}

/** The definition, in float64 and O(n²): median distance over all pooled pairs, then the unbiased MMD². */
function referenceMmd(x: Matrix, y: Matrix): MmdResult {
  const pooled: [Matrix, number][] = [];
  for (let i = 0; i < x.rows; i++) pooled.push([x, i]);
  for (let j = 0; j < y.rows; j++) pooled.push([y, j]);
  const dists = new Float64Array((pooled.length * (pooled.length - 1)) / 2);
  for (let p = 0, k = 0; p < pooled.length; p++) {
    for (let q = p + 1; q < pooled.length; q++) dists[k++] = Math.sqrt(sqDist(...pooled[p]!, ...pooled[q]!));
  }
  dists.sort();
  const h = dists.length >> 1;
  const bandwidth = dists.length % 2 ? dists[h]! : (dists[h - 1]! + dists[h]!) / 2;
  const k = (a: Matrix, i: number, b: Matrix, j: number) => Math.exp(-sqDist(a, i, b, j) / (2 * bandwidth * bandwidth));
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let i = 0; i < x.rows; i++) for (let j = 0; j < x.rows; j++) if (i !== j) xx += k(x, i, x, j);
  for (let i = 0; i < y.rows; i++) for (let j = 0; j < y.rows; j++) if (i !== j) yy += k(y, i, y, j);
  for (let i = 0; i < x.rows; i++) for (let j = 0; j < y.rows; j++) xy += k(x, i, y, j);
  const [m, n] = [x.rows, y.rows];
  return { mmd2: xx / (m * (m - 1)) + yy / (n * (n - 1)) - (2 * xy) / (m * n), bandwidth };
}

function errors(got: MmdResult, want: MmdResult): string {
  const mmd = Math.abs(got.mmd2 - want.mmd2).toExponential(1);
  return `error ${mmd}; σ relative error ${Math.abs(got.bandwidth / want.bandwidth - 1).toExponential(1)}`;
}

describe('MMD² through the ONNX kernel sums', () => {
  let host: SessionHost;
  let kernel: MmdKernel;
  before(async () => {
    host = new SessionHost();
    kernel = await MmdKernel.forHost(host);
  });
  after(() => host.close());

  it('matches a float64 O(n²) reference, bandwidth included', async (t) => {
    // Offset data: centring is what keeps the float32 products accurate.
    for (const [x, y] of [[gaussian(300, 8, 1), gaussian(200, 8, 2)], [gaussian(300, 8, 3, 50), gaussian(200, 8, 4, 50.4)]] as const) {
      const want = referenceMmd(x, y);
      const got = await kernel.compute(x, y);
      t.diagnostic(`mmd2 ${want.mmd2.toExponential(4)}: ${errors(got, want)}`);
      // Each float32 kernel value is off by ~1e-7 relative at most (the exponent, of magnitude ≲ 1 after centring,
      // rounded to 24 bits). Those roundings are unbiased and average out over the 10⁵ pairs: measured errors are a
      // few 1e-9. 1e-7 keeps a wide margin over that yet catches any systematic slip: a diagonal term counted in
      // or a float32 accumulation would be off by 1e-4 to 1e-3. σ: one float32 distance, 1e-6 relative.
      assert.ok(Math.abs(got.mmd2 - want.mmd2) < 1e-7, `mmd2 ${got.mmd2} vs ${want.mmd2}`);
      assert.ok(Math.abs(got.bandwidth - want.bandwidth) < 1e-6 * want.bandwidth, `bandwidth ${got.bandwidth} vs ${want.bandwidth}`);
    }
  });

  it('stays exact when windows span several 2048-row tiles, for the kernel sums and the median alike', async (t) => {
    const [x, y] = [gaussian(2100, 4, 15), gaussian(300, 4, 16, 0.2)];
    const want = referenceMmd(x, y);
    const got = await kernel.compute(x, y, { medianSample: 2100 });
    t.diagnostic(errors(got, want));
    assert.ok(Math.abs(got.mmd2 - want.mmd2) < 1e-7, `mmd2 ${got.mmd2} vs ${want.mmd2}`);
    assert.ok(Math.abs(got.bandwidth - want.bandwidth) < 1e-6 * want.bandwidth, `bandwidth ${got.bandwidth} vs ${want.bandwidth}`);
  });

  it('is about 0 (and may be negative) for one distribution, clearly positive for a mean shift', async () => {
    const same = await kernel.compute(gaussian(400, 16, 5), gaussian(400, 16, 6));
    assert.ok(Math.abs(same.mmd2) < 0.01, `same distribution: ${same.mmd2}`);
    const shifted = await kernel.compute(gaussian(400, 16, 5), gaussian(400, 16, 6, 0.5));
    assert.ok(shifted.mmd2 > 10 * Math.abs(same.mmd2) && shifted.mmd2 > 0.05, `shifted: ${shifted.mmd2}`);
    const identical = gaussian(50, 4, 7);
    const self = await kernel.compute(identical, identical);
    assert.ok(self.mmd2 < 0, 'unbiased: a window against itself lacks the diagonal terms, so it scores below 0');
  });

  it('uses a fixed bandwidth when given, and a seeded, reproducible median sample when windows are large', async () => {
    const [x, y] = [gaussian(300, 8, 8), gaussian(200, 8, 9, 0.3)];
    const fixed = await kernel.compute(x, y, { bandwidth: 2.5 });
    assert.equal(fixed.bandwidth, 2.5);
    const sampled = await kernel.bandwidth(x, y, { medianSample: 100, seed: 11 });
    assert.equal(await kernel.bandwidth(x, y, { medianSample: 100, seed: 11 }), sampled);
    assert.notEqual(await kernel.bandwidth(x, y, { medianSample: 100, seed: 12 }), sampled);
    assert.ok(Math.abs(sampled / referenceMmd(x, y).bandwidth - 1) < 0.05, 'a 100-row sample still estimates the median');
    await assert.rejects(kernel.compute(x, y, { bandwidth: 0 }), /bandwidth must be positive/);
    await assert.rejects(kernel.compute(x, gaussian(10, 7, 1)), /differ in width/);
  });

  it('falls back to the mean distance when over half the pairs coincide, and to 1 when all do', async () => {
    const zeros = (rows: number): Matrix => ({ data: new Float32Array(rows * 3), rows, cols: 3 });
    const twoOut = zeros(30);
    twoOut.data.set([1, 0, 0, 1, 0, 0]);
    // 60 pooled points, two of them at distance 1 from the other 58 and 0 from each other: 116 of 1770 pairs at 1.
    assert.ok(Math.abs((await kernel.bandwidth(zeros(30), twoOut)) / (116 / 1770) - 1) < 1e-6);
    assert.deepEqual(await kernel.compute(zeros(20), zeros(10)), { mmd2: 0, bandwidth: 1 });
  });

  it('reuses one kernel (and session) per host', async () => {
    assert.equal(await MmdKernel.forHost(host), kernel);
  });

  it('runs 5000 vs 5000 rows × 64', async (t) => {
    const [x, y] = [gaussian(5000, 64, 13), gaussian(5000, 64, 14, 0.1)];
    const t0 = performance.now();
    const { mmd2, bandwidth } = await kernel.compute(x, y);
    t.diagnostic(`5000×5000×64: ${(performance.now() - t0).toFixed(0)} ms, mmd2 ${mmd2.toExponential(3)}, σ ${bandwidth.toFixed(3)}`);
    assert.ok(Number.isFinite(mmd2) && mmd2 > 0);
    // Shifting every dimension by 0.1 moves the mean by 0.8 in 64 dimensions: far beyond the null's spread.
    assert.ok(mmd2 > 1e-3, `mmd2 ${mmd2}`);
  });
});

describe('mmdThreshold', () => {
  it('is Gretton et al.\'s 4K√(ln(1/α)/m) for equal sizes and uses the smaller window otherwise', () => {
    assert.ok(Math.abs(mmdThreshold(5000, 5000, 0.05) - 4 * Math.sqrt(Math.log(20) / 5000)) < 1e-15);
    assert.equal(mmdThreshold(100, 5000, 0.05), mmdThreshold(100, 100, 0.05));
    assert.ok(mmdThreshold(100, 100, 0.01) > mmdThreshold(100, 100, 0.05));
    assert.throws(() => mmdThreshold(1, 10, 0.05), /at least 2 rows/);
    assert.throws(() => mmdThreshold(10, 10, 1), /alpha/);
  });
});
