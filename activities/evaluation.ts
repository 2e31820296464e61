import { heartbeat, log } from '@temporalio/activity';
import { readFile } from 'node:fs/promises';
import type { EvalCell, EvalInterval } from '../policies/evaluation/matrix.js';
import type { ModelSpec } from '../policies/spec.js';
import type { Batch } from '../lib/data/batch.js';
import { categoricalCount } from '../lib/data/dataset-config.js';
import { getDatasetById } from '../lib/data/datasets.js';
import { evaluationBatches } from '../lib/data/loader.js';
import { evaluateModel } from '../lib/eval/evaluate.js';
import { ModelStore } from '../lib/models/store.js';
import type { ModelDefinition } from '../lib/onnx/models/model.js';
import { upsertEvaluation } from '../lib/pipelines/evaluations.js';
import { listModels, type ModelRow } from '../lib/pipelines/models.js';
import { listTriggers } from '../lib/pipelines/triggers.js';
import type { ActivityDeps } from './deps.js';
import { configurationError } from './failures.js';
import { modelFor } from './model-for.js';

export interface EvaluateArgs {
  pipelineId: number;
  datasetId: number;
  cells: EvalCell[];
  /** The data after the last trigger, which has no trigger row to read its range from. */
  trailing?: EvalInterval;
  holdout: { fraction: number; seed: number };
  batchSize: number;
}

export interface EvalOutcome extends EvalCell {
  numSamples: number;
  accuracy: number;
  loss: number;
}

/** A fresh copy of held-out batches: evaluation hands batch buffers to its worker thread, which detaches them. */
function copyOf(batches: Batch[]): AsyncIterable<Batch> {
  return (async function* () {
    for (const b of batches) yield { ...b, x: b.x.slice(), y: b.y.slice(), w: b.w.slice(), ...(b.categorical && { categorical: b.categorical.slice() }) };
  })();
}

/**
 * Evaluates models on intervals' held-out samples and stores the results; runs on the gpu task queue.
 * Each interval's samples are read once and every model of its cells runs on them.
 */
export function evaluationActivities({ pool, storeDir, executionProvider }: ActivityDeps) {
  const store = new ModelStore(storeDir);
  return {
    async evaluateModels(args: EvaluateArgs): Promise<EvalOutcome[]> {
      const dataset = await getDatasetById(pool, args.datasetId);
      if (!dataset) throw configurationError('DatasetNotFound', `dataset ${args.datasetId} no longer exists`);
      const models = new Map((await listModels(pool, args.pipelineId)).map((m) => [m.triggerId, m]));
      const intervals = new Map<number, EvalInterval>(
        (await listTriggers(pool, args.pipelineId)).map((t) => [t.triggerId, { intervalId: t.triggerId, firstKey: t.firstKey, lastKey: t.lastKey }]),
      );
      if (args.trailing) intervals.set(args.trailing.intervalId, args.trailing);

      const cellsByInterval = new Map<number, EvalCell[]>();
      for (const cell of args.cells) {
        if (!cellsByInterval.has(cell.intervalId)) cellsByInterval.set(cell.intervalId, []);
        cellsByInterval.get(cell.intervalId)!.push(cell);
      }
      // Each model's graph and definition are loaded once per call, whatever the number of intervals.
      const loaded = new Map<number, { bytes: Uint8Array; def: ModelDefinition }>();
      const load = async (model: ModelRow) => {
        let entry = loaded.get(model.modelId);
        if (!entry) {
          const { features, ...spec } = model.architecture as ModelSpec & { features: number };
          entry = { bytes: await readFile(store.resolve(model.onnxPath)), def: await modelFor(spec as ModelSpec, features, categoricalCount(dataset.format), store) };
          loaded.set(model.modelId, entry);
        }
        return entry;
      };

      const outcomes: EvalOutcome[] = [];
      for (const [intervalId, cells] of cellsByInterval) {
        const interval = intervals.get(intervalId);
        if (!interval) throw new Error(`no interval ${intervalId} for evaluation`);
        const held: Batch[] = [];
        for await (const batch of evaluationBatches(pool, dataset, { range: interval, holdout: args.holdout, batchSize: args.batchSize })) {
          held.push(batch);
        }
        for (const cell of cells) {
          const model = models.get(cell.modelTrigger);
          if (!model) throw new Error(`no model of trigger ${cell.modelTrigger} for evaluation`);
          const { bytes, def } = await load(model);
          const result = await evaluateModel(bytes, copyOf(held), {
            inputs: def.inputs,
            loss: def.loss,
            executionProvider,
            onWarning: (message) => log.warn(message),
          });
          await upsertEvaluation(pool, args.pipelineId, {
            modelId: model.modelId, intervalId, firstKey: interval.firstKey, lastKey: interval.lastKey,
            numSamples: result.count, accuracy: result.accuracy, loss: result.loss,
          });
          outcomes.push({ ...cell, numSamples: result.count, accuracy: result.accuracy, loss: result.loss });
          heartbeat(outcomes.length);
        }
      }
      return outcomes;
    },
  };
}
