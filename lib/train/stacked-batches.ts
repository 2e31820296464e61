/**
 * The batch feeds of a multi-step run (multi-step.ts), stacked in place as the batches arrive: each batch is copied
 * once, straight into its slot of the run's [K, B, ...] arrays while the loader's buffers are fresh in cache, rather
 * than all K at once when the run is posted. The arrays come from a pool that the worker hands them back to after
 * the run: fresh arrays of a few MB per run cost the main thread more to fault in than the copy itself. For the same
 * reason a batch's own arrays go back to the loader's pool (batch-buffers.ts) as soon as they are copied.
 */
import type { Batch } from '../data/batch.js';
import { ownsWholeBuffer, reclaimBatchArrays } from '../data/batch-buffers.js';
import type { TensorArray, TensorData } from '../onnx/session-host.js';

/** Stacked arrays by feed name, each [capacity, ...per-step dims]. */
export type Stack = Record<string, TensorData>;

/** Stacks no run holds, for the next runs of the same shape; a run of another shape replaces them. */
export class StackPool {
  private free: Stack[] = [];
  private shape = '';

  /** A stack of `capacity` slots for per-step feeds shaped as `feeds`: a free one, or new. */
  take(capacity: number, feeds: Record<string, TensorData>): Stack {
    const shape = shapeKey(Object.entries(feeds).map(([name, f]) => [name, f.type, [capacity, ...f.dims]]));
    if (shape !== this.shape) {
      this.free = [];
      this.shape = shape;
    }
    return this.free.pop() ?? Object.fromEntries(Object.entries(feeds).map(([name, f]) => [name, {
      type: f.type, dims: [capacity, ...f.dims], data: new (f.data.constructor as new (n: number) => TensorArray)(capacity * f.data.length),
    } as TensorData]));
  }

  /** Takes back a stack no run uses any more; one of another shape than the latest taken is dropped. */
  give(stack: Stack): void {
    if (shapeKey(Object.entries(stack).map(([name, t]) => [name, t.type, t.dims])) === this.shape) this.free.push(stack);
  }
}

function shapeKey(feeds: [string, string, number[]][]): string {
  return JSON.stringify(feeds);
}

export class StackedBatches {
  /** The batches in the run, in step order. */
  readonly batches: Batch[] = [];
  private stack: Stack | undefined;
  private readonly copies: ArrayBufferView[] = [];

  /**
   * A run of up to `limit` batches in a stack of `capacity` (stepsPerRun) slots, so that stacks of every run fit
   * the pool; `feedsOf`: a batch's own feeds of the single-step graph (trainBatchFeeds).
   */
  constructor(
    private readonly capacity: number,
    private readonly limit: number,
    private readonly feedsOf: (b: Batch) => Record<string, TensorData>,
    private readonly pool: StackPool,
  ) {}

  /** Whether `b` may join: the run has room, and `b` has the size of the batches already in it. */
  accepts(b: Batch): boolean {
    return this.batches.length < Math.min(this.limit, this.capacity) && (this.batches.length === 0 || b.size === this.batches[0]!.size);
  }

  add(b: Batch): void {
    if (!this.accepts(b)) throw new Error(`StackedBatches: a batch of ${b.size} does not fit a run of ${Math.min(this.limit, this.capacity)} batches of ${this.batches[0]?.size}`);
    const slot = this.batches.length;
    const feeds = this.feedsOf(b);
    this.stack ??= this.pool.take(this.capacity, feeds);
    const own = new Set<ArrayBufferView>([b.x, b.y, b.w, ...(b.categorical ? [b.categorical] : [])]);
    const reclaimed: ArrayBufferView[] = [];
    for (const [name, f] of Object.entries(feeds)) {
      (this.stack[name]!.data as Float32Array).set(f.data as Float32Array, slot * f.data.length);
      (own.has(f.data) ? reclaimed : this.copies).push(f.data);
    }
    // The loader's next batches fill these buffers while they are mapped and warm in this core's cache: left to the
    // collector, every batch was a fresh array to fault in (logisticRegression at 256, `bench train` in three
    // alternating pairs: 0.88–0.92 → 1.00–1.20 of the raw loop).
    reclaimBatchArrays(reclaimed);
    this.batches.push(b);
  }

  /**
   * The buffers of the feeds made for these batches (int64 copies of labels and ids) that own their buffer whole.
   * They go to the worker with a full stack, so the worker's small heap collects them, where the main thread's
   * larger one took several times as long (lr@256: GC threads' time 350 → 90 µs a step).
   */
  copyBuffers(): ArrayBuffer[] {
    return [...new Set(this.copies.filter(ownsWholeBuffer).map((a) => a.buffer as ArrayBuffer))];
  }

  /** Whether every slot is filled: the stack is fed whole. */
  get full(): boolean {
    return this.batches.length === this.capacity;
  }

  /** The stack, when full; else copies of its filled slots, [count, ...] (and the stack goes back to the pool). */
  feeds(): Stack {
    const count = this.batches.length;
    if (!this.stack || count === 0) throw new Error('StackedBatches: no batches to feed');
    if (this.full) return this.stack;
    const stack = this.stack;
    const copies = Object.fromEntries(Object.entries(stack).map(([name, t]) => {
      const perStep = t.data.length / this.capacity;
      return [name, { ...t, dims: [count, ...t.dims.slice(1)], data: t.data.slice(0, count * perStep) } as TensorData];
    }));
    this.pool.give(stack);
    return copies;
  }
}
