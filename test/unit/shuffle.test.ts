import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blockSize, BLOCKS_PER_PARTITION, EpochOrder, shuffledOrder } from '../../lib/data/shuffle.js';

describe('epoch order', () => {
  it('puts every block in exactly one partition, in key order within it', () => {
    for (const size of [0, 1, 7, 8, 9, 100, 1001]) {
      for (const partitionSize of [1, 5, 64, 5000]) {
        const order = new EpochOrder(size, blockSize(partitionSize), 3, 1);
        const blocks = Array.from({ length: order.partitions }, (_, p) => Array.from(order.blocksOf(p)));
        for (const part of blocks) assert.deepEqual(part, [...part].sort((a, b) => a - b));
        assert.deepEqual(blocks.flat().sort((a, b) => a - b), Array.from({ length: order.blocks }, (_, i) => i), `size ${size}, partition ${partitionSize}`);
        assert.ok(blocks.every((part) => part.length <= BLOCKS_PER_PARTITION));
        const lengths = blocks.map((_, p) => order.partitionLength(p));
        assert.equal(lengths.reduce((a, b) => a + b, 0), size);
        assert.ok(lengths.every((n) => n <= BLOCKS_PER_PARTITION * blockSize(partitionSize)));
      }
    }
  });

  it('locates a row of the epoch in its partition', () => {
    const order = new EpochOrder(1001, blockSize(64), 3, 1);
    let row = 0;
    for (let p = 0; p < order.partitions; p++) {
      assert.deepEqual(order.locate(row), { partition: p, offset: 0 });
      assert.deepEqual(order.locate(row + 5), { partition: p, offset: 5 });
      row += order.partitionLength(p);
    }
    assert.deepEqual(order.locate(1001), { partition: order.partitions, offset: 0 });
  });

  it('permutes the blocks by (seed, epoch) only', () => {
    const blocksOf = (seed: number, epoch: number) => {
      const order = new EpochOrder(10_000, 10, seed, epoch);
      return Array.from({ length: order.partitions }, (_, p) => Array.from(order.blocksOf(p)));
    };
    assert.deepEqual(blocksOf(1, 0), blocksOf(1, 0));
    assert.notDeepEqual(blocksOf(1, 0), blocksOf(1, 1));
    assert.notDeepEqual(blocksOf(1, 0), blocksOf(2, 0));
  });

  it('shuffles rows into a seeded permutation', () => {
    const order = shuffledOrder(500, 3, 1, 4);
    assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: 500 }, (_, i) => i));
    assert.deepEqual(shuffledOrder(500, 3, 1, 4), order);
    assert.notDeepEqual(shuffledOrder(500, 3, 1, 5), order);
  });
});
