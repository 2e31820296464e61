/** An append-only typed array that doubles its buffer as it fills, for metrics that must keep per-sample values. */
type TypedArray = Float32Array | Int32Array;

export class GrowableArray<T extends TypedArray> {
  private buffer: T;
  length = 0;

  constructor(private readonly allocate: (length: number) => T) {
    this.buffer = allocate(1024);
  }

  /** Appends `values[0..count)`. */
  append(values: ArrayLike<number>, count: number): void {
    if (this.length + count > this.buffer.length) {
      const grown = this.allocate(Math.max(2 * this.buffer.length, this.length + count));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    for (let i = 0; i < count; i++) this.buffer[this.length + i] = values[i]!;
    this.length += count;
  }

  /** The values appended so far; a view, invalidated by the next append. */
  values(): T {
    return this.buffer.subarray(0, this.length) as T;
  }
}
