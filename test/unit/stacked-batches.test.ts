/** Multi-step runs' batch feeds, stacked as the batches arrive, in stacks a pool hands out again. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Batch } from '../../lib/data/batch.js';
import { recycledBytes } from '../../lib/data/batch-buffers.js';
import type { TensorData } from '../../lib/onnx/session-host.js';
import { StackedBatches, StackPool } from '../../lib/train/stacked-batches.js';

const FEATURES = 3;

function batch(size: number, first: number): Batch {
  return {
    x: Float32Array.from({ length: size * FEATURES }, (_, i) => first + i),
    y: Int32Array.from({ length: size }, (_, i) => (first + i) % 4),
    w: new Float32Array(size).fill(first),
    size, features: FEATURES,
  };
}

/** As trainBatchFeeds gives them for softmax-ce: x reshaped, y widened to int64, w. */
function feedsOf(b: Batch): Record<string, TensorData> {
  return {
    x: { type: 'float32', dims: [b.size, FEATURES], data: b.x },
    y: { type: 'int64', dims: [b.size], data: BigInt64Array.from(b.y, (v) => BigInt(v)) },
    w: { type: 'float32', dims: [b.size], data: b.w },
  };
}

describe('StackedBatches', () => {
  it('writes each batch into its slot as it is added; a full run feeds the stack itself', () => {
    const pool = new StackPool();
    const run = new StackedBatches(3, 3, feedsOf, pool);
    const batches = [batch(2, 0), batch(2, 100), batch(2, 200)];
    const xs = Float32Array.from(batches.flatMap((b) => [...b.x]));
    for (const b of batches) run.add(b);
    assert.equal(run.full, true);
    const feeds = run.feeds();
    assert.deepEqual(feeds.x!.dims, [3, 2, FEATURES]);
    assert.deepEqual(feeds.x!.data, xs);
    assert.deepEqual(feeds.y!.dims, [3, 2]);
    assert.deepEqual(feeds.y!.data, BigInt64Array.of(0n, 1n, 0n, 1n, 0n, 1n));
    assert.deepEqual(feeds.w!.data, Float32Array.of(0, 0, 100, 100, 200, 200));
    assert.equal(run.feeds(), feeds, 'the stack, not a copy');
  });

  it('takes batches of the first one\'s size only, up to the limit', () => {
    const run = new StackedBatches(4, 2, feedsOf, new StackPool());
    assert.equal(run.accepts(batch(5, 0)), true);
    run.add(batch(2, 0));
    assert.equal(run.accepts(batch(3, 0)), false);
    assert.throws(() => run.add(batch(3, 0)), /a batch of 3 does not fit a run of 2 batches of 2/);
    run.add(batch(2, 10));
    assert.equal(run.accepts(batch(2, 20)), false, 'the limit (a checkpoint) is reached');
  });

  it('feeds a run cut short as copies of its filled slots, and gives its stack back', () => {
    const pool = new StackPool();
    const run = new StackedBatches(4, 4, feedsOf, pool);
    run.add(batch(2, 0));
    run.add(batch(2, 50));
    assert.equal(run.full, false);
    const feeds = run.feeds();
    assert.deepEqual(feeds.x!.dims, [2, 2, FEATURES]);
    assert.deepEqual(feeds.x!.data, Float32Array.of(0, 1, 2, 3, 4, 5, 50, 51, 52, 53, 54, 55));
    assert.equal(feeds.x!.data.buffer.byteLength, feeds.x!.data.byteLength, 'owns its buffer, so it can be transferred');
    // The pool's next stack is that run's, slots as it left them (a fresh one would be zeros).
    const reused = pool.take(4, feedsOf(batch(2, 0)));
    assert.deepEqual(reused.x!.data.subarray(0, 2 * 2 * FEATURES), feeds.x!.data);
  });

  it('hands a batch\'s own arrays to the loader\'s pool once copied, and lists the feeds\' copies for the worker', () => {
    const run = new StackedBatches(3, 3, feedsOf, new StackPool());
    const large = batch(2, 0);
    large.x = new Float32Array(2 ** 15);
    const shared = new Float32Array(100);
    const view: Batch = { ...batch(2, 5), x: shared.subarray(0, 2 * FEATURES) };
    const labels = [large, view].map((b) => b.y);
    const pooled = recycledBytes();
    for (const b of [large, view]) run.add(b);
    assert.equal(large.x.length, 0, 'x is handed over: detached, as a transfer leaves it');
    assert.equal(large.w.length, 0, 'w too, though too small for the pool');
    assert.equal(recycledBytes() - pooled, 2 ** 17, 'x\'s 128 KB are in the pool for the next batch');
    assert.equal(view.x.length, 2 * FEATURES, 'a view into a larger buffer is not handed over');
    for (const y of labels) assert.ok(y.length === 2 && !run.copyBuffers().includes(y.buffer as ArrayBuffer), 'labels are fed as int64 copies: the batch keeps its own');
    // The int64 label copies, one per batch.
    assert.equal(run.copyBuffers().length, 2);
    assert.deepEqual([...run.feeds().x!.data.subarray(0, 3)], [0, 0, 0]);
  });
});

describe('StackPool', () => {
  const perStep = feedsOf(batch(2, 0));

  it('hands out a stack given back, for runs of the same shape', () => {
    const pool = new StackPool();
    const a = pool.take(3, perStep);
    assert.deepEqual(a.x!.dims, [3, 2, FEATURES]);
    assert.equal(a.x!.data.length, 3 * 2 * FEATURES);
    assert.ok(a.y!.data instanceof BigInt64Array);
    pool.give(a);
    assert.equal(pool.take(3, perStep), a);
    assert.notEqual(pool.take(3, perStep), a, 'each stack goes to one run at a time');
  });

  it('drops stacks of an older shape', () => {
    const pool = new StackPool();
    const a = pool.take(3, perStep);
    const other = pool.take(3, feedsOf(batch(5, 0)));
    pool.give(a);
    assert.notEqual(pool.take(3, feedsOf(batch(5, 0))), a);
    pool.give(other);
    assert.equal(pool.take(3, feedsOf(batch(5, 0))), other);
    const fewer = pool.take(2, feedsOf(batch(5, 0)));
    assert.deepEqual(fewer.x!.dims, [2, 5, FEATURES]);
  });

  it('takes back stacks rebuilt from the arrays the worker returns', () => {
    const pool = new StackPool();
    const a = pool.take(3, perStep);
    const rebuilt = Object.fromEntries(Object.entries(a).map(([name, t]) => [name, { type: t.type, dims: [...t.dims], data: t.data }]));
    pool.give(rebuilt);
    assert.equal(pool.take(3, perStep), rebuilt);
  });
});
