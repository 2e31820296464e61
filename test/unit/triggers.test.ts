import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BatchDescriptor } from '../../policies/batches.js';
import { dataAmountTrigger } from '../../policies/triggers/data-amount.js';
import { timeTrigger } from '../../policies/triggers/time.js';
import type { TriggerPolicy } from '../../policies/triggers/policy.js';

/** Builds descriptors for consecutive batches of (count, minTs, maxTs). */
function batches(...spans: [number, number, number][]): BatchDescriptor[] {
  let next = 1;
  return spans.map(([count, minTs, maxTs]) => {
    const batch = { datasetId: 1, firstKey: next, lastKey: next + count - 1, count, minTs, maxTs };
    next += count;
    return batch;
  });
}

/** Splits a batch whose samples have the given timestamps (keys follow time), as the data plane does. */
function split(batch: BatchDescriptor, timestamps: number[], points: number[]): BatchDescriptor[] {
  const edges = [-Infinity, ...points, Infinity];
  const segments: BatchDescriptor[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const keys = timestamps.map((ts, k) => [ts, batch.firstKey + k]).filter(([ts]) => ts >= edges[i] && ts < edges[i + 1]);
    if (keys.length === 0) continue;
    segments.push({
      datasetId: batch.datasetId, firstKey: keys[0][1], lastKey: keys.at(-1)![1], count: keys.length,
      minTs: keys[0][0], maxTs: keys.at(-1)![0],
    });
  }
  return segments;
}

function run<S>(policy: TriggerPolicy<S>, input: BatchDescriptor[], timestamps?: number[][]): number[] {
  let state = policy.initialState();
  const cuts: number[] = [];
  input.forEach((batch, i) => {
    const points = policy.splitPoints(state, batch);
    const segments = points.length > 0 ? split(batch, timestamps![i], points) : [batch];
    const out = policy.inform(JSON.parse(JSON.stringify(state)), segments);
    state = out.state;
    cuts.push(...out.cuts);
  });
  return cuts;
}

describe('data amount trigger', () => {
  it('cuts every N samples across batch edges', () => {
    assert.deepEqual(run(dataAmountTrigger(100), batches([250, 0, 0], [30, 0, 0], [20, 0, 0], [99, 0, 0])), [100, 200, 300]);
  });
  it('cuts exactly at a batch end and carries the remainder', () => {
    assert.deepEqual(run(dataAmountTrigger(10), batches([10, 0, 0], [5, 0, 0], [5, 0, 0])), [10, 20]);
  });
  it('gives the same cuts however the data is batched', () => {
    const one = run(dataAmountTrigger(7), batches([100, 0, 0]));
    const many = run(dataAmountTrigger(7), batches(...Array.from({ length: 20 }, () => [5, 0, 0] as [number, number, number])));
    assert.deepEqual(one, many);
    assert.equal(one.length, 14);
  });
});

describe('time trigger', () => {
  const day = 86_400;
  it('cuts before the first sample of each new period, inside a batch', () => {
    // One batch spanning three days: samples at 0, 0.5d, 1d, 1.5d, 2d.
    const ts = [0, day / 2, day, 1.5 * day, 2 * day];
    const input = batches([5, 0, 2 * day]);
    assert.deepEqual(run(timeTrigger(day), input, [ts]), [2, 4]);
  });
  it('cuts between batches, one per period, skipping empty periods', () => {
    const input = batches([3, 0, 100], [3, day + 5, day + 50], [2, 10 * day, 10 * day + 1]);
    const ts = [[0, 50, 100], [day + 5, day + 10, day + 50], [10 * day, 10 * day + 1]];
    assert.deepEqual(run(timeTrigger(day), input, ts), [3, 6]);
  });
  it('honours an explicit start', () => {
    const ts = [10, 20, 30, 40];
    assert.deepEqual(run(timeTrigger(10, 5), batches([4, 10, 40]), [ts]), [1, 2, 3]);
  });
  it('asks to split only where a boundary falls inside a batch', () => {
    const policy = timeTrigger(day);
    const state = policy.initialState();
    assert.deepEqual(policy.splitPoints(state, batches([5, 0, 100])[0]), []);
    assert.deepEqual(policy.splitPoints(state, batches([5, 0, 3 * day])[0]), [day, 2 * day, 3 * day]);
  });
});
