/** Session hosts kept between training calls: reused only when empty and usable, closed when idle or full. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { SessionHostPool } from '../../lib/onnx/session-host-pool.js';
import type { TensorData } from '../../lib/onnx/session-host.js';

const tensor: TensorData = { type: 'float32', dims: [2], data: Float32Array.of(1, 2) };

describe('SessionHostPool', () => {
  it('lends a host given back empty to the next take, which finds it working and empty', async () => {
    const pool = new SessionHostPool(60_000, 1);
    try {
      const host = pool.take();
      await host.put({ a: tensor });
      await host.get(['a'], { take: true });
      await pool.giveBack(host);
      const again = pool.take();
      assert.equal(again, host);
      assert.equal(await again.isEmpty(), true);
      await again.put({ b: tensor });
      assert.deepEqual(Array.from((await again.get(['b'], { take: true })).b!.data as Float32Array), [1, 2]);
      await pool.giveBack(again);
    } finally {
      await pool.close();
    }
  });

  it('closes a host given back with something left in its worker, or closed, instead of lending it again', async () => {
    const pool = new SessionHostPool(60_000, 1);
    try {
      const left = pool.take();
      await left.put({ a: tensor });
      await pool.giveBack(left);
      assert.equal(left.usable, false);
      await assert.rejects(left.get(['a']), /session host closed/);
      const closed = pool.take();
      assert.notEqual(closed, left);
      await closed.close();
      await pool.giveBack(closed);
      const fresh = pool.take();
      assert.notEqual(fresh, closed);
      await fresh.close();
    } finally {
      await pool.close();
    }
  });

  it('keeps at most `most` idle hosts, and closes one unused for idleMs', async () => {
    const pool = new SessionHostPool(150, 1);
    try {
      const [a, b] = [pool.take(), pool.take()];
      await Promise.all([a.put({}), b.put({})]);
      await pool.giveBack(a);
      await pool.giveBack(b);
      assert.equal(a.usable, true);
      assert.equal(b.usable, false, 'no room for a second idle host');
      await sleep(400);
      assert.equal(a.usable, false, 'closed after idleMs');
      const fresh = pool.take();
      assert.notEqual(fresh, a);
      await fresh.close();
    } finally {
      await pool.close();
    }
  });

  it('never keeps a CUDA host (it holds device memory and tells its CPU fallback once)', async () => {
    const pool = new SessionHostPool(60_000, 1);
    try {
      const cuda = pool.take({ executionProvider: 'cuda' });
      assert.equal(await cuda.isEmpty(), true);
      await pool.giveBack(cuda);
      assert.equal(cuda.usable, false);
      const cpu = pool.take();
      assert.notEqual(cpu, cuda);
      await cpu.close();
    } finally {
      await pool.close();
    }
  });
});
