import { heartbeat, log } from '@temporalio/activity';
import { readFile } from 'node:fs/promises';
import type { EvalCell, EvalInterval } from '../policies/evaluation/matrix.js';
import { getDatasetById } from '../lib/data/datasets.js';
import { evaluationBatches } from '../lib/data/loader.js';
import { evaluateModel } from '../lib/eval/evaluate.js';
import { ModelStore } from '../lib/models/store.js';
import { upsertEvaluation } from '../lib/pipelines/evaluations.js';
import { listModels } from '../lib/pipelines/models.js';
import { listTriggers } from '../lib/pipelines/triggers.js';
import type { ActivityDeps } from './deps.js';
import { configurationError } from './failures.js';

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

/** Evaluates models on intervals' held-out samples and stores the results; runs on the gpu task queue. */
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

      const outcomes: EvalOutcome[] = [];
      const bytesByModel = new Map<number, Uint8Array>();
      for (const cell of args.cells) {
        const model = models.get(cell.modelTrigger);
        const interval = intervals.get(cell.intervalId);
        if (!model || !interval) throw new Error(`no ${model ? 'interval' : 'model'} for evaluation cell ${JSON.stringify(cell)}`);
        let bytes = bytesByModel.get(model.modelId);
        if (!bytes) bytesByModel.set(model.modelId, (bytes = await readFile(store.resolve(model.onnxPath))));
        const batches = evaluationBatches(pool, dataset, { range: interval, holdout: args.holdout, batchSize: args.batchSize });
        const result = await evaluateModel(bytes, batches, { executionProvider, onWarning: (message) => log.warn(message) });
        await upsertEvaluation(pool, args.pipelineId, {
          modelId: model.modelId, intervalId: interval.intervalId, firstKey: interval.firstKey, lastKey: interval.lastKey,
          numSamples: result.count, accuracy: result.accuracy, loss: result.loss,
        });
        outcomes.push({ ...cell, numSamples: result.count, accuracy: result.accuracy, loss: result.loss });
        heartbeat(outcomes.length);
      }
      return outcomes;
    },
  };
}
