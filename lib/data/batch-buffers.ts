/**
 * Arrays for the loader's batches, used again: the trainer hands a batch's buffers back once its step has run
 * (session-host.ts, RunOptions.recycle: batchBufferRecycler), or once a stacked run has copied them
 * (reclaimBatchArrays), and the loader fills them for a later batch. A fresh array of a batch's size
 * (786 KB for 64 RGB images of 32×32) is new memory the kernel zeroes page by page as it is first written, next to
 * the core the training session runs on, and garbage the collector has to find; the session shares the caches and
 * the memory bus with both (bench/README.md, the image path, has the measurements).
 *
 * Only buffers of a batch's size are worth it: smaller ones are left to the allocator. The pool holds at most
 * PER_SIZE of a size and MAX_BYTES in all, and lets everything go after IDLE_MS without a take, so a finished
 * training leaves no memory behind.
 */
import type { Batch } from './batch.js';

const MIN_BYTES = 64 * 1024;
const PER_SIZE = 8;
const MAX_BYTES = 256 * 2 ** 20;
const IDLE_MS = 10_000;

/** Free buffers by byte length. */
const free = new Map<number, ArrayBuffer[]>();
let held = 0;
let idleTimer: NodeJS.Timeout | undefined;

/** A zeroed Float32Array of `length`, in a buffer handed back when one of its size is free. */
export function float32Batch(length: number): Float32Array {
  const buffer = take(length * 4);
  return buffer ? new Float32Array(buffer).fill(0) : new Float32Array(length);
}

/** A zeroed Int32Array of `length`, as float32Batch. */
export function int32Batch(length: number): Int32Array {
  const buffer = take(length * 4);
  return buffer ? new Int32Array(buffer).fill(0) : new Int32Array(length);
}

/**
 * A copy of `batch` for the trainer, which transfers what it trains on: features and categorical ids in arrays
 * from this pool, as the loader hands batches over. For callers that feed batches they keep (from memory).
 */
export function batchCopy(batch: Batch): Batch {
  const x = float32Batch(batch.x.length);
  x.set(batch.x);
  const copy: Batch = { ...batch, x, y: batch.y.slice(), w: batch.w.slice() };
  if (batch.categorical) {
    copy.categorical = int32Batch(batch.categorical.length);
    copy.categorical.set(batch.categorical);
  }
  return copy;
}

/**
 * Takes buffers whose arrays nobody uses any more (e.g. transferred to the session worker and sent back after the
 * run) for later batches. Detached and small buffers, and those over the pool's bounds, are left alone.
 */
export function recycleBatchBuffers(buffers: ArrayBuffer[]): void {
  let kept = false;
  for (const buffer of buffers) {
    const bytes = buffer.byteLength;
    if (bytes < MIN_BYTES || held + bytes > MAX_BYTES) continue;
    const same = free.get(bytes) ?? [];
    if (same.length >= PER_SIZE) continue;
    same.push(buffer);
    free.set(bytes, same);
    held += bytes;
    kept = true;
  }
  if (kept) restartIdleTimer();
}

/**
 * Takes the buffers of arrays a batch handed over and that were copied from (a stacked run's batches, in
 * stacked-batches.ts) for later batches, without waiting for a collector: each buffer moves to the pool as a new
 * ArrayBuffer over the same memory (no copy), which leaves the array detached, as a transfer to the worker does.
 * Views into a larger buffer are left alone.
 */
export function reclaimBatchArrays(arrays: ArrayBufferView[]): void {
  const buffers = new Set(arrays.filter(ownsWholeBuffer).map((a) => a.buffer as ArrayBuffer));
  recycleBatchBuffers([...buffers].map((b) => structuredClone(b, { transfer: [b] })));
}

/** Whether `a` spans its whole, unshared ArrayBuffer: what can be handed over without handing over more. */
export function ownsWholeBuffer(a: ArrayBufferView): boolean {
  return a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;
}

/** The pool as a training run's recycler (session-host.ts, RunOptions.recycle): only buffers it keeps come back. */
export const batchBufferRecycler = { minBytes: MIN_BYTES, take: recycleBatchBuffers };

/** Bytes the pool holds now: for tests. */
export function recycledBytes(): number {
  return held;
}

function take(bytes: number): ArrayBuffer | undefined {
  const buffer = free.get(bytes)?.pop();
  if (!buffer) return undefined;
  held -= bytes;
  restartIdleTimer();
  return buffer;
}

function restartIdleTimer(): void {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    free.clear();
    held = 0;
  }, IDLE_MS);
  // The pool alone must not keep a process alive.
  idleTimer.unref();
}
