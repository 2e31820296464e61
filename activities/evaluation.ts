import { activityInfo, heartbeat } from '@temporalio/activity';
import { cellsAfterTrigger, cellsForTrailingInterval, type EvalCell, type EvalInterval, type EvaluatedModels } from '../policies/evaluation/matrix.js';
import { categoricalCount, featureCount } from '../lib/data/dataset-config.js';
import { inferenceBatchSize } from '../lib/eval/model-outputs.js';
import { getDatasetById } from '../lib/data/datasets.js';
import { evaluationBatches } from '../lib/data/loader.js';
import type { MetricSpec } from '../policies/evaluation/metric-specs.js';
import type { ModelSessions } from '../lib/eval/model-sessions.js';
import { ModelStore } from '../lib/models/store.js';
import { evaluationAccuracy, recordEvaluationTime, upsertEvaluation } from '../lib/pipelines/evaluations.js';
import { listModels } from '../lib/pipelines/models.js';
import { listTriggers } from '../lib/pipelines/triggers.js';
import type { ActivityDeps } from './deps.js';
import { asActivityFailure } from './deterministic-errors.js';
import { configurationError } from './failures.js';
import { MODELS_PER_PASS, modelScoring } from './evaluation-sessions.js';

export interface EvaluateArgs {
  pipelineId: number;
  datasetId: number;
  /**
   * The cells to evaluate: those trigger `afterTrigger` made computable (its model on every interval so far,
   * earlier models on the intervals since the last trained one), or every model on the data after the last
   * trigger, which has no trigger row to read its range from. The activity reads the models from the database,
   * so its input stays the same size however many triggers the pipeline has had.
   */
  scope: { afterTrigger: number } | { trailing: EvalInterval };
  /** Samples per inference run; absent: sized by the samples' width (inferenceBatchSize). */
  batchSize?: number;
  metrics: readonly MetricSpec[];
  /** Which models (policies/evaluation/matrix.ts); absent in histories recorded before the modes: the whole matrix. */
  models?: EvaluatedModels;
}

/** Accuracies the pipeline shows in its status; every cell's metrics are in the database. */
export interface EvaluationSummary {
  cells: number;
  /** The newest model on its own interval (afterTrigger), or on the trailing interval. */
  newestAccuracy?: number;
  /** The model before the newest on the newest's interval: how the deployed model did on data it had not seen. */
  previousAccuracy?: number;
}

/** What a retried attempt skips: cells already stored, as "modelTrigger/intervalId". */
interface EvaluationProgress {
  done: string[];
}


const cellKey = (c: EvalCell) => `${c.modelTrigger}/${c.intervalId}`;

/** An evaluation call's row in evaluation_runs. */
const scopeKey = (scope: EvaluateArgs['scope']) => ('afterTrigger' in scope ? `after:${scope.afterTrigger}` : `trailing:${scope.trailing.intervalId}`);

/**
 * Evaluates models on intervals' held-out samples with every metric of the spec and stores the results; runs on
 * the gpu task queue. Sessions stay alive in `sessions` between calls (one host per worker). Each interval's samples
 * are streamed once per group of MODELS_PER_PASS models, every batch heartbeats, and a retried attempt resumes
 * after the last stored cell.
 */
export function evaluationActivities({ pool, storeDir }: ActivityDeps, sessions: ModelSessions) {
  const store = new ModelStore(storeDir);

  const score = modelScoring(store, sessions);

  async function evaluate(args: EvaluateArgs): Promise<EvaluationSummary> {
    const dataset = await getDatasetById(pool, args.datasetId);
    if (!dataset) throw configurationError('DatasetNotFound', `dataset ${args.datasetId} no longer exists`);
    const stored = await listModels(pool, args.pipelineId);
    // Models whose files `tide gc` deleted still shape the matrix, but have no cells left to evaluate.
    const models = new Map(stored.filter((m) => m.deletedAt === null).map((m) => [m.triggerId, m]));
    const intervals = new Map<number, EvalInterval>(
      (await listTriggers(pool, args.pipelineId)).map((t) => [t.triggerId, { intervalId: t.triggerId, firstKey: t.firstKey, lastKey: t.lastKey }]),
    );
    const trained = stored.map((m) => m.triggerId).sort((a, b) => a - b);
    let cells: EvalCell[];
    if ('afterTrigger' in args.scope) {
      const t = args.scope.afterTrigger;
      cells = cellsAfterTrigger(t, trained.filter((m) => m < t), args.models);
    } else {
      intervals.set(args.scope.trailing.intervalId, args.scope.trailing);
      cells = cellsForTrailingInterval(args.scope.trailing.intervalId, trained, args.models);
    }

    const batchSize = args.batchSize ?? inferenceBatchSize(featureCount(dataset.format) + categoricalCount(dataset.format));
    const done = new Set((activityInfo().heartbeatDetails as EvaluationProgress | undefined)?.done ?? []);
    const byInterval = new Map<number, EvalCell[]>();
    for (const cell of cells.filter((c) => models.has(c.modelTrigger) && !done.has(cellKey(c)))) {
      byInterval.set(cell.intervalId, [...(byInterval.get(cell.intervalId) ?? []), cell]);
    }
    for (const [intervalId, intervalCells] of byInterval) {
      const interval = intervals.get(intervalId);
      if (!interval) throw new Error(`no interval ${intervalId} for evaluation`);
      for (let at = 0; at < intervalCells.length; at += MODELS_PER_PASS) {
        const group = intervalCells.slice(at, at + MODELS_PER_PASS);
        const rows = group.map((cell) => {
          const model = models.get(cell.modelTrigger);
          if (!model) throw new Error(`no model of trigger ${cell.modelTrigger} for evaluation`);
          return model;
        });
        const scores = await score(
          rows, dataset, evaluationBatches(pool, dataset, { range: interval, holdout: dataset.holdout, batchSize }), args.metrics,
          () => heartbeat({ done: [...done] } satisfies EvaluationProgress),
        );
        for (const [i, cell] of group.entries()) {
          const { numSamples, metrics } = scores[i]!;
          await upsertEvaluation(pool, args.pipelineId, {
            modelId: rows[i]!.modelId, intervalId, firstKey: interval.firstKey, lastKey: interval.lastKey, numSamples, metrics,
          });
          done.add(cellKey(cell));
        }
        heartbeat({ done: [...done] } satisfies EvaluationProgress);
      }
    }
    return summarize(args, cells, trained);
  }

  async function summarize(args: EvaluateArgs, cells: EvalCell[], trained: number[]): Promise<EvaluationSummary> {
    const accuracy = (modelTrigger: number | undefined, intervalId: number) =>
      modelTrigger === undefined ? Promise.resolve(undefined) : evaluationAccuracy(pool, args.pipelineId, modelTrigger, intervalId);
    if ('trailing' in args.scope) {
      return { cells: cells.length, newestAccuracy: await accuracy(trained.at(-1), args.scope.trailing.intervalId) };
    }
    const t = args.scope.afterTrigger;
    const previous = trained.filter((m) => m < t).at(-1);
    return { cells: cells.length, newestAccuracy: await accuracy(t, t), previousAccuracy: await accuracy(previous, t) };
  }

  return {
    async evaluateModels(args: EvaluateArgs): Promise<EvaluationSummary> {
      const started = Date.now();
      try {
        const summary = await evaluate(args);
        await recordEvaluationTime(pool, args.pipelineId, scopeKey(args.scope), summary.cells, Date.now() - started);
        return summary;
      } catch (err) {
        const scope = 'afterTrigger' in args.scope ? `the cells of trigger ${args.scope.afterTrigger}` : `the data after trigger ${args.scope.trailing.intervalId - 1}`;
        throw asActivityFailure(err, 'EvaluationFailed', `pipeline ${args.pipelineId}: evaluating ${scope}`);
      }
    },
  };
}
