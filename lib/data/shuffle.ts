import { createRng } from '../rng.js';

/**
 * Deterministic shuffling for the loader: an epoch's order depends only on (seed, epoch), the training set's
 * size and the partition size, so a resumed epoch replays exactly the same batches.
 */

/**
 * Blocks gathered into one partition. The training set is cut into blocks of consecutive keys, the epoch
 * permutes the blocks, and each partition shuffles this many blocks together, so every batch mixes 8 random
 * regions of the whole set (a key range is a span of time: old and new data), where one contiguous partition
 * would hand the trainer one span after another. A partition is still read as 8 index range scans and 8
 * contiguous runs of records, each block at least 128 keys at the default partition sizes (1Ki to 64Ki), and
 * the loader holds partitions, not a per-sample order of the whole set. More blocks would mix finer but read
 * in shorter runs. The number is fixed, not a loader setting: it decides the batches, and a resumed run must
 * see the same ones.
 */
export const BLOCKS_PER_PARTITION = 8;

/** Keys per block: partitions then hold partitionSize keys, rounded up to a multiple of BLOCKS_PER_PARTITION. */
export function blockSize(partitionSize: number): number {
  return Math.ceil(partitionSize / BLOCKS_PER_PARTITION);
}

/**
 * One epoch's order of a training set of `size` rows in key order: blocks of `blockSize` rows (the last one
 * shorter), permuted with a PRNG seeded by (seed, epoch) and taken BLOCKS_PER_PARTITION at a time into
 * partitions; the loader shuffles each partition's rows with `shuffledOrder`. Memory: one number per block.
 */
export class EpochOrder {
  readonly blocks: number;
  readonly partitions: number;
  private readonly order: Uint32Array;

  constructor(readonly size: number, readonly blockSize: number, seed: number, epoch: number) {
    this.blocks = Math.ceil(size / blockSize);
    this.partitions = Math.ceil(this.blocks / BLOCKS_PER_PARTITION);
    this.order = permutation(this.blocks, streamSeed(BLOCK_STREAM, seed, epoch, 0));
  }

  /** The blocks of partition p in key order, so that its rows read as one key-ordered page. */
  blocksOf(p: number): Uint32Array {
    return this.order.slice(p * BLOCKS_PER_PARTITION, (p + 1) * BLOCKS_PER_PARTITION).sort();
  }

  blockLength(block: number): number {
    return Math.min(this.blockSize, this.size - block * this.blockSize);
  }

  partitionLength(p: number): number {
    return this.blocksOf(p).reduce((n, block) => n + this.blockLength(block), 0);
  }

  /** Where row `row` of the epoch's output falls: its partition and the rows of it before it (partitions when past the end). */
  locate(row: number): { partition: number; offset: number } {
    let partition = 0;
    for (let length = 0; partition < this.partitions && row >= (length = this.partitionLength(partition)); partition++) row -= length;
    return { partition, offset: row };
  }
}

/** Fisher–Yates order of the n rows of an epoch's partition, from (seed, epoch, partition index). */
export function shuffledOrder(n: number, seed: number, epoch: number, partition: number): Uint32Array {
  return permutation(n, streamSeed(ROW_STREAM, seed, epoch, partition));
}

/** Distinct starting states, so that the blocks' order and each partition's order are unrelated streams. */
const ROW_STREAM = 0x9e3779b9;
const BLOCK_STREAM = 0x7f4a7c15;

function streamSeed(stream: number, seed: number, epoch: number, index: number): number {
  return mix(mix(mix(mix(stream, seed >>> 0), Math.floor(seed / 2 ** 32) >>> 0), epoch >>> 0), index >>> 0);
}

/** Fisher–Yates permutation of 0..n-1. */
function permutation(n: number, state: number): Uint32Array {
  const rng = createRng(state);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** Folds `value` into hash state `h` (murmur3 finalizer), so nearby seeds give unrelated streams. */
function mix(h: number, value: number): number {
  h = Math.imul(h ^ value, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
