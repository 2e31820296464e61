/** One training or evaluation batch, decoded into typed arrays ready to feed an ONNX session. */
export interface Batch {
  /** Row-major features, `size * features` floats. */
  x: Float32Array;
  /** Class labels, one per row. */
  y: Int32Array;
  /** Per-sample loss weights, one per row. */
  w: Float32Array;
  size: number;
  features: number;
  /** Row-major categorical ids, `size * categoricalCount`; only for formats with categorical fields. */
  categorical?: Int32Array;
  categoricalCount?: number;
  /** The samples' keys, one per row (the loader's batches carry them): what a step may look up by sample. */
  keys?: Float64Array;
}
