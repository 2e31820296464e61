/**
 * Scores several models on one stream of held-out batches: each batch is read once and run through every model's
 * live session (model-sessions.ts), whose outputs feed that model's metrics. Classifiers use the metric registry
 * (metrics/); a regression model ('mse') gets its mean squared error as `loss`.
 */
import type { Batch } from '../data/batch.js';
import { inputFeeds } from '../onnx/batch-feeds.js';
import type { MetricSpec } from '../../policies/evaluation/metric-specs.js';
import { createMetrics, type MetricResult } from './metrics/index.js';
import type { ModelSession } from './model-sessions.js';

/** What one model's scoring produced: the sample count and every metric by name. */
export interface ModelScore {
  numSamples: number;
  metrics: Record<string, MetricResult>;
}

interface Accumulator {
  update(output: Float32Array, batch: Batch): void;
  results(): Record<string, MetricResult>;
}

function accumulatorFor(model: ModelSession, outputSize: number, specs: readonly MetricSpec[]): Accumulator {
  if (model.loss === 'mse') {
    let sum = 0;
    let count = 0;
    return {
      update(output, batch) {
        for (let i = 0; i < batch.size; i++) sum += (output[i]! - batch.y[i]!) ** 2;
        count += batch.size;
      },
      results: () => ({ loss: count === 0 ? null : sum / count }),
    };
  }
  const set = createMetrics(specs, { numClasses: model.loss === 'bce-logits' ? 2 : outputSize, loss: model.loss });
  return {
    update: (output, batch) => set.update(output, batch.y, batch.size, output.length / batch.size),
    results: () => set.results(),
  };
}

/**
 * Runs every batch through every model and returns each model's score, in the order of `models`. Runs of all
 * models on one batch are in flight together, and the next batch is read meanwhile; `onBatch` is told after each.
 */
export async function scoreModels(
  models: { session: ModelSession; outputSize: number }[],
  batches: AsyncIterable<Batch>,
  specs: readonly MetricSpec[],
  onBatch: (samples: number) => void = () => {},
): Promise<ModelScore[]> {
  const accumulators = models.map((m) => accumulatorFor(m.session, m.outputSize, specs));
  let numSamples = 0;
  let pending: Promise<void> | undefined;
  for await (const batch of batches) {
    if (batch.size === 0) continue;
    const runs = models.map(async (m, i) => {
      const feeds = inputFeeds(batch, m.session.inputs);
      // The last model's run may take the batch's buffers (a transfer, no copy); the others get copies.
      const out = await m.session.session.run(feeds, { fetch: ['output'], transfer: i === models.length - 1 });
      accumulators[i]!.update(out.output!.data as Float32Array, batch);
    });
    await pending;
    pending = Promise.all(runs).then(() => {
      numSamples += batch.size;
      onBatch(numSamples);
    });
    pending.catch(() => {});
  }
  await pending;
  return accumulators.map((a) => ({ numSamples, metrics: a.results() }));
}
