import type pg from 'pg';
import type { EvaluationStrategy, TimeInterval } from '../../policies/evaluation/intervals/index.js';
import type { EvaluatedModels } from '../../policies/evaluation/matrix.js';
import type { TrainedModel } from '../../policies/evaluation/serving-models.js';
import { meanCompositeAccuracy } from '../eval/composite.js';
import { intervalCompositeSeries, type IntervalCell, type IntervalCompositePoint } from '../eval/interval-composite.js';
import { getDatasetById } from '../data/datasets.js';
import { listIntervalEvaluations, listPlans, type EvaluationPlan } from '../pipelines/evaluation-plans.js';
import type { ModelRow } from '../pipelines/models.js';
import type { TriggerRow } from '../pipelines/triggers.js';

/** An evaluation in sample time as reports and `tide evaluate` show it. */
export interface PlanReport {
  name: string;
  strategy: EvaluationStrategy;
  models: EvaluatedModels;
  /** The evaluated dataset, and whether only its held-out samples were. */
  dataset: string;
  heldOut: boolean;
  intervals: TimeInterval[];
  cells: IntervalCell[];
  composite: IntervalCompositePoint[];
  /** The composite model's accuracy averaged over the intervals, weighted by their samples; null without any. */
  meanCompositeAccuracy: number | null;
}

/** A plan's cells and composite models, given the pipeline's triggers and models. */
export async function loadPlanReport(pool: pg.Pool, plan: EvaluationPlan, triggers: TriggerRow[], models: ModelRow[]): Promise<PlanReport> {
  const maxTs = new Map(triggers.map((t) => [t.triggerId, Number(t.maxTs)]));
  const trained: TrainedModel[] = models.map((m) => ({ trigger: m.triggerId, maxTs: maxTs.get(m.triggerId) ?? 0 }));
  const cells = (await listIntervalEvaluations(pool, plan.planId)).map((e) => ({
    modelTrigger: e.modelTrigger, intervalId: e.intervalId, numSamples: e.numSamples,
    accuracy: typeof e.metrics.accuracy === 'number' ? e.metrics.accuracy : null,
  }));
  const composite = intervalCompositeSeries(plan.intervals, trained, cells);
  return {
    name: plan.name, strategy: plan.strategy, models: plan.models, dataset: (await getDatasetById(pool, plan.datasetId))?.name ?? `dataset ${plan.datasetId}`,
    heldOut: plan.heldOut, intervals: plan.intervals, cells, composite, meanCompositeAccuracy: meanCompositeAccuracy(composite),
  };
}

/** Every evaluation in sample time of a pipeline, oldest first. */
export async function loadPlanReports(pool: pg.Pool, pipelineId: number, triggers: TriggerRow[], models: ModelRow[]): Promise<PlanReport[]> {
  return Promise.all((await listPlans(pool, pipelineId)).map((plan) => loadPlanReport(pool, plan, triggers, models)));
}
