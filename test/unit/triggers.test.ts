import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dataAmountTrigger } from '../../policies/triggers/data-amount.js';
import { timeTrigger } from '../../policies/triggers/time.js';
import type { AnyTriggerPolicy } from '../../policies/triggers/protocol.js';
import { batchesOf, drive } from '../helpers/policy-driver.js';

const cutsOf = (policy: unknown, sizes: number[], timestamps?: number[]) => drive(policy as AnyTriggerPolicy, batchesOf(sizes, timestamps), { timestamps }).cuts;

describe('data amount trigger', () => {
  it('cuts every N samples across batch edges', () => {
    assert.deepEqual(cutsOf(dataAmountTrigger(100), [250, 30, 20, 99]), [100, 200, 300]);
  });
  it('cuts exactly at a batch end and carries the remainder', () => {
    assert.deepEqual(cutsOf(dataAmountTrigger(10), [10, 5, 5]), [10, 20]);
  });
  it('gives the same cuts however the data is batched', () => {
    const one = cutsOf(dataAmountTrigger(7), [100]);
    const many = cutsOf(dataAmountTrigger(7), Array.from({ length: 20 }, () => 5));
    assert.deepEqual(one, many);
    assert.equal(one.length, 14);
  });
  it('has decided through every key it saw', () => {
    const policy = dataAmountTrigger(10);
    const out = policy.step(policy.initialState(), { kind: 'data', batch: batchesOf([25])[0]! });
    assert.equal(policy.decidedThrough(out.state), 25);
  });
});

describe('time trigger', () => {
  const day = 86_400;
  it('cuts before the first sample of each new period, inside a batch', () => {
    // One batch spanning three days: samples at 0, 0.5d, 1d, 1.5d, 2d.
    assert.deepEqual(cutsOf(timeTrigger(day), [5], [0, day / 2, day, 1.5 * day, 2 * day]), [2, 4]);
  });
  it('cuts between batches, one per period, skipping empty periods', () => {
    const ts = [0, 50, 100, day + 5, day + 10, day + 50, 10 * day, 10 * day + 1];
    assert.deepEqual(cutsOf(timeTrigger(day), [3, 3, 2], ts), [3, 6]);
  });
  it('honours an explicit start', () => {
    assert.deepEqual(cutsOf(timeTrigger(10, 5), [4], [10, 20, 30, 40]), [1, 2, 3]);
  });
  it('asks to split only where a boundary falls inside a batch', () => {
    const policy = timeTrigger(day);
    const state = policy.initialState();
    assert.deepEqual(policy.step(state, { kind: 'data', batch: batchesOf([5], [0, 10, 20, 50, 100])[0]! }).commands, []);
    const [split] = policy.step(state, { kind: 'data', batch: batchesOf([2], [0, 3 * day])[0]! }).commands;
    assert.deepEqual(split && split.kind === 'split' && split.at, [day, 2 * day, 3 * day]);
  });
  it('costs nothing for a gap in sample time: the boundaries asked for start past the gap', () => {
    // 10^8 empty periods between two samples of one batch: one split, at the boundaries next to the data.
    const ts = [0, 1e8 * day + 5];
    const run = drive(timeTrigger(day) as AnyTriggerPolicy, batchesOf([2], ts), { timestamps: ts });
    assert.deepEqual(run.cuts, [1]);
    const splits = run.commands.filter((c) => c.kind === 'split');
    assert.ok(splits.length <= 2, `${splits.length} splits`);
    assert.ok(splits.every((c) => c.kind === 'split' && c.at.length <= 64));
    // And across batches: the second batch far after the first asks for no walk over the gap.
    const gap = [0, 1, 5e7 * day, 5e7 * day + 1];
    assert.deepEqual(cutsOf(timeTrigger(day), [2, 2], gap), [2]);
  });
  it('splits a batch spanning many periods that hold data a bounded number of boundaries at a time', () => {
    // 200 samples, one per day: 199 cuts, asked for in splits of at most 64 boundaries.
    const ts = Array.from({ length: 200 }, (_, i) => i * day);
    const run = drive(timeTrigger(day) as AnyTriggerPolicy, batchesOf([200], ts), { timestamps: ts });
    assert.deepEqual(run.cuts, Array.from({ length: 199 }, (_, i) => i + 1));
    const splits = run.commands.filter((c) => c.kind === 'split');
    assert.equal(splits.length, 4);
    assert.ok(splits.every((c) => c.kind === 'split' && c.at.length <= 64));
  });
  it('gives the same cuts however the data is batched', () => {
    const ts = Array.from({ length: 100 }, (_, i) => Math.floor(i * 0.37 * day));
    const one = cutsOf(timeTrigger(day), [100], ts);
    const many = cutsOf(timeTrigger(day), Array.from({ length: 10 }, () => 10), ts);
    assert.deepEqual(one, many);
    assert.ok(one.length > 30);
  });
});
