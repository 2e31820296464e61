import type pg from 'pg';
import {
  compositeSeries, pipelineFigures, type CompositePoint, type EvaluationMatrix, type PipelineFigures,
} from '../eval/composite.js';
import { evaluationSeconds, listEvaluations } from '../pipelines/evaluations.js';
import { listModels, type ModelRow } from '../pipelines/models.js';
import { getPipelineByName } from '../pipelines/registry.js';
import { listTriggers, type TriggerRow } from '../pipelines/triggers.js';
import { loadPlanReports, type PlanReport } from './plan-data.js';

/** An evaluation interval with the sample-time span of its data (seconds), for the time axis. */
export interface ReportInterval {
  intervalId: number;
  firstKey: number;
  lastKey: number;
  minTs: number;
  maxTs: number;
}

/** Everything a pipeline's report shows, read from the database once. */
export interface PipelineReportData {
  name: string;
  triggers: TriggerRow[];
  models: ModelRow[];
  intervals: ReportInterval[];
  matrix: EvaluationMatrix;
  composite: CompositePoint[];
  figures: PipelineFigures;
  /** Evaluations in sample time (after the pipeline, or by `tide evaluate`). */
  plans: PlanReport[];
}

export class UnknownPipeline extends Error {
  constructor(readonly pipeline: string) {
    super(`no pipeline named "${pipeline}" in the database`);
    this.name = 'UnknownPipeline';
  }
}

/** Reads a pipeline's triggers, models and evaluation matrix into the report model. */
export async function loadPipelineReport(pool: pg.Pool, name: string): Promise<PipelineReportData> {
  const pipeline = await getPipelineByName(pool, name);
  if (!pipeline) throw new UnknownPipeline(name);
  const { pipelineId, datasetId } = pipeline;
  const [triggers, models, evaluations, chanceAccuracy, evaluationTime] = await Promise.all([
    listTriggers(pool, pipelineId), listModels(pool, pipelineId), listEvaluations(pool, pipelineId), chance(pool, pipelineId),
    evaluationSeconds(pool, pipelineId),
  ]);

  // Interval i < T spans trigger i's data; the trailing interval T only appears in evaluation rows.
  const intervals = new Map<number, ReportInterval>(
    triggers.map((t) => [t.triggerId, { intervalId: t.triggerId, firstKey: t.firstKey, lastKey: t.lastKey, minTs: t.minTs, maxTs: t.maxTs }]),
  );
  for (const e of evaluations) {
    if (intervals.has(e.intervalId)) continue;
    const span = await timeSpan(pool, datasetId, e.firstKey, e.lastKey);
    intervals.set(e.intervalId, { intervalId: e.intervalId, firstKey: e.firstKey, lastKey: e.lastKey, ...span });
  }

  const evaluated = [...new Set(evaluations.map((e) => e.intervalId))].sort((a, b) => a - b);
  const matrix: EvaluationMatrix = {
    models: models.map((m) => m.triggerId),
    intervals: evaluated,
    cells: evaluations.map((e) => ({ modelTrigger: e.modelTrigger, intervalId: e.intervalId, accuracy: e.accuracy, numSamples: e.numSamples })),
  };
  return {
    name,
    triggers,
    models,
    intervals: [...intervals.values()].sort((a, b) => a.intervalId - b.intervalId),
    matrix,
    composite: compositeSeries(matrix),
    figures: pipelineFigures(matrix, triggers, models, evaluationTime, chanceAccuracy),
    plans: await loadPlanReports(pool, pipelineId, triggers, models),
  };
}

/** Chance accuracy 1/classes from the pipeline's model spec; null where the spec does not say. */
async function chance(pool: pg.Pool, pipelineId: number): Promise<number | null> {
  const { rows } = await pool.query(`SELECT (spec->'model'->>'numClasses')::int AS classes FROM pipelines WHERE pipeline_id = $1`, [pipelineId]);
  const classes = rows[0]?.classes as number | null | undefined;
  return classes ? 1 / classes : null;
}

async function timeSpan(pool: pg.Pool, datasetId: number, firstKey: number, lastKey: number): Promise<{ minTs: number; maxTs: number }> {
  const { rows } = await pool.query(
    `SELECT coalesce(min(ts), 0) AS min_ts, coalesce(max(ts), 0) AS max_ts
       FROM samples WHERE dataset_id = $1 AND sample_key BETWEEN $2 AND $3`,
    [datasetId, firstKey, lastKey],
  );
  return { minTs: rows[0].min_ts, maxTs: rows[0].max_ts };
}
