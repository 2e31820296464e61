import { statSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';

/** A synchronous stat that takes longer waited for I/O (a network mount, a disk), not for the kernel's caches. */
const SLOW_STAT_MS = 0.5;
/**
 * Share of the recent synchronous stats (weighted to about the last 100) that may be slow before the rest go
 * through libuv's thread pool. A slow call now and then is the thread being preempted on a busy machine; most of
 * them slow is a file system the main thread should not wait for.
 */
const MAX_SLOW_SHARE = 0.1;
const SHARE_WEIGHT = 0.01;

/**
 * stat for a reader that checks many small files, one per sample: synchronous while the file system answers in
 * microseconds. A request to the thread pool costs several times the call itself in CPU, and wakes a pool thread
 * that, on a busy machine, takes the core from the main thread and CPU from the training session (measured on the
 * 2-core development machine, the loader alone: 57 µs of process CPU per cached 32×32 image with an asynchronous
 * stat, 42 µs with a synchronous one, before reads served from memory skipped the rest of the asynchronous path).
 */
export class FileStatus {
  /** Moving share of slow synchronous stats; past MAX_SLOW_SHARE, stats go through the thread pool. */
  private slowShare = 0;

  /** The status at once; undefined while the file system is slow, or when the stat fails (`of` reports why). */
  now(absolute: string): Stats | undefined {
    if (this.slowShare > MAX_SLOW_SHARE) return undefined;
    const started = performance.now();
    let status: Stats | undefined;
    try {
      status = statSync(absolute);
    } catch {
      return undefined;
    }
    const slow = performance.now() - started > SLOW_STAT_MS ? 1 : 0;
    this.slowShare += SHARE_WEIGHT * (slow - this.slowShare);
    return status;
  }

  async of(absolute: string): Promise<Stats> {
    return this.now(absolute) ?? stat(absolute);
  }
}
