import { heartbeat } from '@temporalio/activity';
import { intervalCells } from '../policies/evaluation/interval-cells.js';
import { IntervalPlanError, planIntervals, type EvaluationStrategy } from '../policies/evaluation/intervals/index.js';
import type { EvalCell, EvaluatedModels } from '../policies/evaluation/matrix.js';
import type { MetricSpec } from '../policies/evaluation/metric-specs.js';
import type { TrainedModel } from '../policies/evaluation/serving-models.js';
import { categoricalCount, featureCount } from '../lib/data/dataset-config.js';
import { getDataset, getDatasetById, type Dataset } from '../lib/data/datasets.js';
import { evaluationBatches, keysOverlapping } from '../lib/data/loader.js';
import { sampleShapeMismatch } from '../lib/data/sample-shape.js';
import type { ModelSessions } from '../lib/eval/model-sessions.js';
import { inferenceBatchSize } from '../lib/eval/model-outputs.js';
import { ModelStore } from '../lib/models/store.js';
import { createPlan, datasetTimeSpan, getPlan, insertIntervalEvaluation, listIntervalEvaluations, type EvaluationPlan } from '../lib/pipelines/evaluation-plans.js';
import { recordEvaluationTime } from '../lib/pipelines/evaluations.js';
import { listModels, type ModelRow } from '../lib/pipelines/models.js';
import { getPipeline, pipelineEndKey } from '../lib/pipelines/registry.js';
import { listTriggers, type TriggerRow } from '../lib/pipelines/triggers.js';
import type { ActivityDeps } from './deps.js';
import { asActivityFailure } from './deterministic-errors.js';
import { MODELS_PER_PASS, modelScoring } from './evaluation-sessions.js';
import { configurationError } from './failures.js';

export interface PlanEvaluationArgs {
  /** The evaluation workflow's id: a retried planning returns the plan it stored under it. */
  name: string;
  pipelineId: number;
  /** A separate evaluation dataset, all of whose samples are evaluated; absent: the pipeline's dataset's held-out samples. */
  dataset?: string;
  strategy: EvaluationStrategy;
  models: EvaluatedModels;
}

export interface PlannedEvaluation {
  planId: number;
  intervals: number;
  cells: number;
}

export interface EvaluatePlanArgs {
  planId: number;
  metrics: readonly MetricSpec[];
  /** Samples per inference run; absent: sized by the samples' width (inferenceBatchSize). */
  batchSize?: number;
}

/** Keys of an interval no file overlaps: nothing to read. */
const NO_KEYS = { firstKey: 1, lastKey: 0 };

async function datasetOf(pool: ActivityDeps['pool'], id: number): Promise<Dataset> {
  const dataset = await getDatasetById(pool, id);
  if (!dataset) throw configurationError('DatasetNotFound', `dataset ${id} no longer exists`);
  return dataset;
}

/** The pipeline's triggers, and its models whose files are on disk with the newest timestamp of each one's training data. */
async function trainedModels(deps: ActivityDeps, pipelineId: number): Promise<{ triggers: TriggerRow[]; rows: Map<number, ModelRow>; spans: TrainedModel[] }> {
  const triggers = await listTriggers(deps.pool, pipelineId);
  const maxTs = new Map(triggers.map((t) => [t.triggerId, Number(t.maxTs)]));
  const rows = new Map((await listModels(deps.pool, pipelineId)).filter((m) => m.deletedAt === null).map((m) => [m.triggerId, m]));
  const spans = [...rows.keys()].map((trigger) => ({ trigger, maxTs: maxTs.get(trigger) ?? 0 }));
  return { triggers, rows, spans };
}

/**
 * Evaluations in sample time (policies/evaluation/intervals/), `planEvaluation` on the cpu queue: cuts the strategy's
 * intervals from what is stored now and records the plan, which `evaluatePlan` then scores: one read of an
 * interval per group of MODELS_PER_PASS models, and a retried attempt skips the cells already stored.
 */
export function evaluationPlanActivities(deps: ActivityDeps) {
  const { pool } = deps;

  async function plan(args: PlanEvaluationArgs): Promise<{ stored: EvaluationPlan; spans: TrainedModel[] }> {
    const pipeline = await getPipeline(pool, args.pipelineId);
    if (!pipeline) throw configurationError('InvalidSpec', `pipeline ${args.pipelineId} does not exist`);
    const own = await datasetOf(pool, pipeline.datasetId);
    const evaluated = args.dataset === undefined ? own : await getDataset(pool, args.dataset);
    if (!evaluated) throw configurationError('DatasetNotFound', `evaluation dataset "${args.dataset}" does not exist: register it with tide dataset add`);
    const mismatch = sampleShapeMismatch(own.format, evaluated.format);
    if (mismatch) throw configurationError('InvalidSpec', `evaluation dataset "${evaluated.name}" cannot be scored by pipeline ${pipeline.name}'s models: ${mismatch}`);
    const { triggers, spans } = await trainedModels(deps, args.pipelineId);
    const trained = new Set(spans.map((m) => m.trigger));
    // On its own dataset, a pipeline with an end of the stream (an experiment's variant) is evaluated up to that end.
    const until = evaluated.id === own.id ? await pipelineEndKey(pool, args.pipelineId) : undefined;
    const context = {
      data: await datasetTimeSpan(pool, evaluated.id, until),
      triggers: triggers.map((t) => ({ triggerId: t.triggerId, minTs: Number(t.minTs), maxTs: Number(t.maxTs), trained: trained.has(t.triggerId) })),
    };
    let intervals;
    try {
      intervals = planIntervals(args.strategy, context);
    } catch (err) {
      if (err instanceof IntervalPlanError) throw configurationError('InvalidSpec', err.message);
      throw err;
    }
    const stored = await createPlan(pool, {
      name: args.name, pipelineId: args.pipelineId, datasetId: evaluated.id, heldOut: evaluated.id === own.id,
      strategy: args.strategy, models: args.models, intervals,
    });
    return { stored, spans };
  }

  return {
    async planEvaluation(args: PlanEvaluationArgs): Promise<PlannedEvaluation> {
      try {
        const { stored, spans } = await plan(args);
        return { planId: stored.planId, intervals: stored.intervals.length, cells: intervalCells(stored.intervals, spans, stored.models).length };
      } catch (err) {
        throw asActivityFailure(err, 'EvaluationFailed', `pipeline ${args.pipelineId}: planning the evaluation ${args.name}`);
      }
    },
  };
}

/** `evaluatePlan` (gpu): scores a plan's cells with the worker's cached inference sessions. */
export function planScoringActivities(deps: ActivityDeps, sessions: ModelSessions) {
  const { pool } = deps;
  const score = modelScoring(new ModelStore(deps.storeDir), sessions);

  async function evaluate(args: EvaluatePlanArgs): Promise<{ stored: EvaluationPlan; cells: number }> {
    const stored = await getPlan(pool, args.planId);
    if (!stored) throw configurationError('InvalidSpec', `evaluation plan ${args.planId} does not exist`);
    const pipeline = await getPipeline(pool, stored.pipelineId);
    if (!pipeline) throw configurationError('InvalidSpec', `pipeline ${stored.pipelineId} does not exist`);
    const own = await datasetOf(pool, pipeline.datasetId);
    const evaluated = await datasetOf(pool, stored.datasetId);
    const { rows, spans } = await trainedModels(deps, stored.pipelineId);
    const cells = intervalCells(stored.intervals, spans, stored.models);
    const done = new Set((await listIntervalEvaluations(pool, args.planId)).map((e) => `${e.modelTrigger}/${e.intervalId}`));
    const byInterval = new Map<number, EvalCell[]>();
    for (const cell of cells.filter((c) => !done.has(`${c.modelTrigger}/${c.intervalId}`))) {
      byInterval.set(cell.intervalId, [...(byInterval.get(cell.intervalId) ?? []), cell]);
    }
    const batchSize = args.batchSize ?? inferenceBatchSize(featureCount(evaluated.format) + categoricalCount(evaluated.format));
    for (const [intervalId, intervalCells] of byInterval) {
      const interval = stored.intervals[intervalId]!;
      const time = { startTs: interval.startTs, endTs: interval.endTs };
      const keys = (await keysOverlapping(pool, evaluated.id, time.startTs, time.endTs)) ?? NO_KEYS;
      for (let at = 0; at < intervalCells.length; at += MODELS_PER_PASS) {
        const group = intervalCells.slice(at, at + MODELS_PER_PASS).map((cell) => rows.get(cell.modelTrigger)!);
        const batches = evaluationBatches(pool, evaluated, { range: keys, holdout: stored.heldOut ? evaluated.holdout : null, batchSize, time });
        const scores = await score(group, own, batches, args.metrics, () => heartbeat());
        for (const [i, model] of group.entries()) {
          await insertIntervalEvaluation(pool, args.planId, { modelId: model.modelId, intervalId, ...time, ...scores[i]! });
        }
        heartbeat();
      }
    }
    return { stored, cells: cells.length };
  }

  return {
    async evaluatePlan(args: EvaluatePlanArgs): Promise<{ cells: number }> {
      const started = Date.now();
      try {
        const { stored, cells } = await evaluate(args);
        await recordEvaluationTime(pool, stored.pipelineId, `plan:${stored.name}`, cells, Date.now() - started);
        return { cells };
      } catch (err) {
        throw asActivityFailure(err, 'EvaluationFailed', `evaluating plan ${args.planId}`);
      }
    },
  };
}
