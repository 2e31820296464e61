import { readFile } from 'node:fs/promises';
import type { Batch } from '../lib/data/batch.js';
import { categoricalCount } from '../lib/data/dataset-config.js';
import type { Dataset } from '../lib/data/datasets.js';
import type { MetricSpec } from '../policies/evaluation/metric-specs.js';
import type { ModelSession, ModelSessions } from '../lib/eval/model-sessions.js';
import { scoreModels } from '../lib/eval/score-models.js';
import type { ModelStore } from '../lib/models/store.js';
import type { ModelRow } from '../lib/pipelines/models.js';
import type { ModelSpec } from '../policies/spec.js';
import { modelFor } from './model-for.js';

/** Models scored together on one read of an interval's samples: their sessions are live at once. */
export const MODELS_PER_PASS = 4;

/**
 * Scores stored models on batches with the worker's cached inference sessions: all of `models` live at once, one
 * read of `batches` for the group (at most MODELS_PER_PASS). `dataset` is the one the models were trained on.
 */
export function modelScoring(store: ModelStore, sessions: ModelSessions) {
  const loader = (model: ModelRow, dataset: Dataset) => async () => {
    const { features, ...spec } = model.architecture as ModelSpec & { features: number };
    const def = await modelFor(spec as ModelSpec, features, categoricalCount(dataset.format), store);
    return { bytes: await readFile(store.resolve(model.onnxPath)), def };
  };

  function withSessions<T>(models: ModelRow[], dataset: Dataset, work: (live: ModelSession[]) => Promise<T>, live: ModelSession[] = []): Promise<T> {
    if (live.length === models.length) return work(live);
    const model = models[live.length]!;
    return sessions.use(model.modelId, loader(model, dataset), (session) => withSessions(models, dataset, work, [...live, session]));
  }

  return (models: ModelRow[], dataset: Dataset, batches: AsyncIterable<Batch>, metrics: readonly MetricSpec[], onBatch: () => void) =>
    withSessions(models, dataset, (live) => scoreModels(
      live.map((session) => ({ session, outputSize: session.outputSize })), batches, metrics, onBatch,
    ));
}
