/** RS2: disjoint chunks cycling through every sample without replacement, fresh uniform subsets with it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rs2 } from '../../lib/train/downsampling/rs2.js';

const picksOf = (n: number, k: number, epoch: number, seed: number, withReplacement: boolean) => Array.from(rs2(n, k, epoch, seed, withReplacement).indexes);

function assertSubset(picks: number[], n: number, k: number): void {
  assert.equal(picks.length, k);
  assert.equal(new Set(picks).size, k, 'a pick repeats within an epoch');
  for (const i of picks) assert.ok(Number.isInteger(i) && i >= 0 && i < n);
}

describe('RS2', () => {
  it('without replacement, each pass of ceil(n/k) epochs trains on every sample once, the short last chunk topped up', () => {
    for (const [n, k] of [[20, 5], [23, 5], [7, 7], [10, 1], [9, 4]] as const) {
      const chunks = Math.ceil(n / k);
      for (const pass of [0, 1, 2]) {
        const epochs = Array.from({ length: chunks }, (_, c) => picksOf(n, k, pass * chunks + c, 42, false));
        epochs.forEach((p) => assertSubset(p, n, k));
        // The chunks proper (without the top-up) are a partition of all samples.
        const proper = epochs.flatMap((p, c) => (c < chunks - 1 ? p : p.slice(0, n - (chunks - 1) * k)));
        assert.deepEqual([...proper].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), `n ${n} k ${k} pass ${pass}`);
        // The top-up comes from the pass's first chunk.
        const topUp = epochs.at(-1)!.slice(n - (chunks - 1) * k);
        assert.deepEqual(topUp, epochs[0]!.slice(0, topUp.length));
      }
    }
  });

  it('without replacement, each pass walks a new permutation', () => {
    const first = [0, 1, 2, 3].map((e) => picksOf(40, 10, e, 3, false));
    const second = [4, 5, 6, 7].map((e) => picksOf(40, 10, e, 3, false));
    assert.notDeepEqual(second, first);
  });

  it('with replacement, every epoch is a valid uniform subset, new each epoch, the same for the same seed', () => {
    const counts = new Array(30).fill(0);
    const epochs = Array.from({ length: 600 }, (_, e) => picksOf(30, 6, e, 7, true));
    for (const p of epochs) {
      assertSubset(p, 30, 6);
      for (const i of p) counts[i]++;
    }
    // 600 epochs × 6 picks over 30 samples: 120 each in expectation, binomial sd ≈ 9.8.
    for (const c of counts) assert.ok(Math.abs(c - 120) < 50, `count ${c}`);
    assert.notDeepEqual(epochs[1], epochs[0]);
    assert.deepEqual(picksOf(30, 6, 5, 7, true), epochs[5]);
    assert.notDeepEqual(picksOf(30, 6, 5, 8, true), epochs[5]);
    assert.deepEqual(Array.from(rs2(30, 6, 5, 7, true).weights), new Array(6).fill(1));
  });

  it('k outside [1, n] and a bad epoch are errors naming the value', () => {
    assert.throws(() => rs2(10, 0, 0, 1, false), /k = 0 must be an integer in \[1, 10\]/);
    assert.throws(() => rs2(10, 11, 0, 1, true), /k = 11/);
    assert.throws(() => rs2(10, 3, -1, 1, false), /epoch = -1/);
  });
});
