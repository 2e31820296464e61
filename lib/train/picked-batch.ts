import type { Batch } from '../data/batch.js';
import type { Picks } from './downsampling/index.js';

/** The rows of `batch` at picks.indexes (repeats allowed), each weighted by its pick's weight times its own. */
export function pickedBatch(batch: Batch, picks: Picks): Batch {
  const { features } = batch;
  const size = picks.indexes.length;
  const out: Batch = { x: new Float32Array(size * features), y: new Int32Array(size), w: new Float32Array(size), size, features };
  const ids = batch.categoricalCount ?? 0;
  if (batch.categorical) {
    out.categorical = new Int32Array(size * ids);
    out.categoricalCount = ids;
  }
  picks.indexes.forEach((i, row) => {
    out.x.set(batch.x.subarray(i * features, (i + 1) * features), row * features);
    out.y[row] = batch.y[i]!;
    out.w[row] = picks.weights[row]! * batch.w[i]!;
    if (out.categorical) out.categorical.set(batch.categorical!.subarray(i * ids, (i + 1) * ids), row * ids);
  });
  return out;
}
