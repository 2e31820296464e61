import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { batchCopy, float32Batch, int32Batch, recycledBytes, recycleBatchBuffers } from '../../lib/data/batch-buffers.js';
import { SessionHost } from '../../lib/onnx/session-host.js';
import { GraphBuilder } from '../../lib/onnx/graph.js';

const LENGTH = 64 * 3072;

describe('batch buffers', () => {
  it('hands a buffer given back to the next batch of its size, zeroed, and leaves other sizes and small buffers alone', () => {
    const used = float32Batch(LENGTH);
    used.fill(7);
    recycleBatchBuffers([used.buffer as ArrayBuffer, new ArrayBuffer(1024)]);
    assert.equal(recycledBytes(), LENGTH * 4);
    assert.notEqual(float32Batch(LENGTH / 2).buffer, used.buffer);
    const again = float32Batch(LENGTH);
    assert.equal(again.buffer, used.buffer);
    assert.ok(again.every((v) => v === 0));
    assert.equal(recycledBytes(), 0);
    const ids = int32Batch(LENGTH);
    assert.notEqual(ids.buffer, used.buffer);
  });

  it('copies a batch into arrays of its own, features from a buffer given back', () => {
    const given = new ArrayBuffer(LENGTH * 4);
    recycleBatchBuffers([given]);
    const batch = {
      x: Float32Array.from({ length: LENGTH }, (_, i) => i), y: Int32Array.of(1, 2), w: Float32Array.of(1, 0.5), size: 2, features: LENGTH / 2,
      categorical: Int32Array.of(5, 6, 7, 8), categoricalCount: 2,
    };
    const copy = batchCopy(batch);
    assert.equal(copy.x.buffer, given);
    assert.deepEqual(copy, batch);
    for (const k of ['x', 'y', 'w', 'categorical'] as const) assert.notEqual(copy[k]!.buffer, batch[k].buffer, k);
  });

  it('keeps at most eight of a size, ignores detached buffers, and lets everything go after 10 s unused', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const detached = new ArrayBuffer(LENGTH * 4);
      structuredClone(detached, { transfer: [detached] });
      recycleBatchBuffers([detached, ...Array.from({ length: 10 }, () => new ArrayBuffer(LENGTH * 4))]);
      assert.equal(recycledBytes(), 8 * LENGTH * 4);
      mock.timers.tick(9_000);
      float32Batch(LENGTH);
      mock.timers.tick(9_000);
      assert.equal(recycledBytes(), 7 * LENGTH * 4);
      mock.timers.tick(1_000);
      assert.equal(recycledBytes(), 0);
    } finally {
      mock.timers.reset();
    }
  });

  it('gets the inline feeds of a run back from the session worker, as sent, once the run is done, if large enough', async () => {
    const g = new GraphBuilder('double');
    const input = g.input('x', 'float32', [LENGTH]);
    g.output('y', g.op('Add', [input, input]), 'float32', [LENGTH]);
    const host = new SessionHost();
    try {
      const session = await host.createSession(g.toBytes());
      const x = Float32Array.from({ length: LENGTH }, (_, i) => i % 251);
      const returned: ArrayBuffer[] = [];
      const out = await session.run({ x: { type: 'float32', dims: [LENGTH], data: x } }, { transfer: true, recycle: { minBytes: 1024, take: (b) => returned.push(...b) } });
      assert.equal(x.length, 0, 'the feed was transferred');
      assert.equal(returned.length, 1);
      const back = new Float32Array(returned[0]!);
      assert.equal(back.length, LENGTH);
      assert.ok(back.every((v, i) => v === i % 251));
      assert.equal((out.y!.data as Float32Array)[252], 2, 'outputs are computed before the feeds go back');
      // Buffers under the recycler's size stay in the worker.
      const small: ArrayBuffer[] = [];
      const y = back.slice();
      await session.run({ x: { type: 'float32', dims: [LENGTH], data: y } }, { transfer: true, recycle: { minBytes: LENGTH * 4 + 1, take: (b) => small.push(...b) } });
      assert.deepEqual([small.length, y.length], [0, 0]);
      // Without transfer, the worker keeps a copy and gives nothing back.
      const kept: ArrayBuffer[] = [];
      await session.run({ x: { type: 'float32', dims: [LENGTH], data: back } }, { recycle: { minBytes: 1024, take: (b) => kept.push(...b) } });
      assert.deepEqual([kept.length, back.length], [0, LENGTH]);
    } finally {
      await host.close();
    }
  });
});
