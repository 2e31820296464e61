/**
 * Pipeline-level figures from the evaluation matrix: the composite model (which model served each
 * interval), its mean metric over time, forgetting and transfer, and what the pipeline cost. Pure code.
 *
 * The matrix is R[model][interval]: a model is named by the trigger that trained it, interval i < T is
 * trigger i's new data and interval T the data after the last trigger. A trigger may skip training, so
 * the models are a subset of the triggers; a "task" (in the continual-learning sense) is an interval
 * whose own trigger trained a model.
 */
import type { ModelRow } from '../pipelines/models.js';

/** One cell of a pipeline's evaluation matrix: a model on one interval's held-out samples. */
export interface MatrixCell {
  modelTrigger: number;
  intervalId: number;
  /** Null when the interval had no held-out samples to score. */
  accuracy: number | null;
  /** The interval's held-out samples. */
  numSamples: number;
}

export interface EvaluationMatrix {
  /** Triggers that trained a model, ascending. */
  models: number[];
  /** Interval ids, ascending. */
  intervals: number[];
  cells: MatrixCell[];
}

/**
 * The model serving interval `intervalId`: the latest one trained on data before it, that is the model
 * of the latest trigger j < intervalId that trained one. None for interval 0 or before the first model.
 */
export function activeModel(intervalId: number, models: number[]): number | null {
  let active: number | null = null;
  for (const model of models) if (model < intervalId && (active === null || model > active)) active = model;
  return active;
}

/** The model trained on interval `intervalId`'s own data: its trigger's model, if that trigger trained one. */
export function trainedModel(intervalId: number, models: number[]): number | null {
  return models.includes(intervalId) ? intervalId : null;
}

/** Accuracy lookup R[model][interval]; null for a cell not evaluated (yet) or without held-out samples. */
export function accuracyLookup(cells: MatrixCell[]): (model: number, intervalId: number) => number | null {
  const byCell = new Map(cells.map((c) => [`${c.modelTrigger}/${c.intervalId}`, c.accuracy]));
  return (model, intervalId) => {
    const accuracy = byCell.get(`${model}/${intervalId}`);
    return accuracy === undefined || accuracy === null || Number.isNaN(accuracy) ? null : accuracy;
  };
}

export interface CompositePoint {
  intervalId: number;
  activeModel: number | null;
  trainedModel: number | null;
  /** The active model's accuracy on the interval: the composite model's metric. */
  activeAccuracy: number | null;
  /** The interval's own model's accuracy on it (seen data, so an upper reference, not a forecast). */
  trainedAccuracy: number | null;
  /** The interval's held-out samples (the same for every model on it). */
  numSamples: number;
}

/** The composite model over time: per interval, which model served it and how well, and the one trained on it. */
export function compositeSeries(matrix: EvaluationMatrix): CompositePoint[] {
  const accuracy = accuracyLookup(matrix.cells);
  const samples = new Map<number, number>();
  for (const c of matrix.cells) samples.set(c.intervalId, Math.max(samples.get(c.intervalId) ?? 0, c.numSamples));
  return matrix.intervals.map((intervalId) => {
    const active = activeModel(intervalId, matrix.models);
    const trained = trainedModel(intervalId, matrix.models);
    return {
      intervalId,
      activeModel: active,
      trainedModel: trained,
      activeAccuracy: active === null ? null : accuracy(active, intervalId),
      trainedAccuracy: trained === null ? null : accuracy(trained, intervalId),
      numSamples: samples.get(intervalId) ?? 0,
    };
  });
}

/**
 * Mean accuracy of the composite model over time: the active model's accuracy per interval, averaged over
 * the intervals that have an active model and a score, weighted by the interval's held-out sample count.
 * That count is a fixed fraction of the interval's samples, so this weights by data volume (every sample
 * served counts once); Modyn weights by interval length in time instead, which differs when the data rate
 * varies. Null when no interval has an active model yet.
 */
export function meanCompositeAccuracy(points: CompositePoint[]): number | null {
  let weighted = 0;
  let samples = 0;
  for (const p of points) {
    if (p.activeAccuracy === null || p.numSamples <= 0) continue;
    weighted += p.activeAccuracy * p.numSamples;
    samples += p.numSamples;
  }
  return samples === 0 ? null : weighted / samples;
}

export interface TransferFigures {
  backwardTransfer: number | null;
  forwardTransfer: number | null;
  forgetting: number | null;
}

/**
 * Forgetting and transfer (Lopez-Paz & Ranzato, GEM 2017; Chaudhry et al. 2018, as in Avalanche) over the
 * tasks m_0 < … < m_{K−1} (the triggers that trained a model; m_{K−1} is the final model), on accuracy:
 * - backward transfer: mean over k < K−1 of R[m_{K−1}][m_k] − R[m_k][m_k] (negative: the final model
 *   lost accuracy on earlier tasks);
 * - forward transfer: mean over k > 0 of R[m_{k−1}][m_k] − b, with b the chance accuracy 1/classes (GEM's
 *   baseline is a randomly initialised model, whose expected accuracy is chance); null when the number of
 *   classes is unknown;
 * - forgetting: mean over k < K−1 of max over l in [k, K−2] of R[m_l][m_k], minus R[m_{K−1}][m_k] (the
 *   best an earlier model did on a task, minus what the final model does).
 * Intervals of triggers that skipped training, and the data after the last trigger, are no task. Cells not
 * evaluated are left out of the means; each figure is null with fewer than two models.
 */
export function transferFigures(matrix: EvaluationMatrix, chanceAccuracy: number | null): TransferFigures {
  const R = accuracyLookup(matrix.cells);
  const tasks = [...matrix.models].sort((a, b) => a - b);
  const final = tasks.at(-1);
  const backward: number[] = [];
  const forward: number[] = [];
  const forgetting: number[] = [];
  if (final !== undefined) {
    tasks.forEach((task, k) => {
      if (k > 0 && chanceAccuracy !== null) {
        const before = R(tasks[k - 1]!, task);
        if (before !== null) forward.push(before - chanceAccuracy);
      }
      if (task === final) return;
      const last = R(final, task);
      const own = R(task, task);
      if (last === null) return;
      if (own !== null) backward.push(last - own);
      const earlier = tasks.slice(k, -1).map((model) => R(model, task)).filter((a): a is number => a !== null);
      if (earlier.length > 0) forgetting.push(Math.max(...earlier) - last);
    });
  }
  return { backwardTransfer: mean(backward), forwardTransfer: mean(forward), forgetting: mean(forgetting) };
}

const mean = (values: number[]) => (values.length === 0 ? null : values.reduce((s, v) => s + v, 0) / values.length);

export interface PipelineCost {
  triggers: number;
  models: number;
  /** Training-set sizes summed over the triggers (a sample in two training sets counts twice). */
  samplesTrained: number;
  /** Samples passed through training, summed over the models: epochs count each sample again. */
  samplesProcessed: number;
  trainingSeconds: number;
  /** Samples scored by model-based downsampling, summed over the models. */
  samplesScored: number;
  /** The part of trainingSeconds spent scoring. */
  scoringSeconds: number;
  /** Wall time of the pipeline's evaluation calls (lib/pipelines/evaluations.ts evaluation_runs). */
  evaluationSeconds: number;
}

/** What the cost figures read of a model row. */
export type ModelCost = Pick<ModelRow, 'numSamples' | 'trainingMs' | 'numScored' | 'scoringMs'>;

export function pipelineCost(triggers: { numSelected: number | null }[], models: ModelCost[], evaluationSeconds: number): PipelineCost {
  return {
    triggers: triggers.length,
    models: models.length,
    samplesTrained: triggers.reduce((s, t) => s + (t.numSelected ?? 0), 0),
    samplesProcessed: models.reduce((s, m) => s + m.numSamples, 0),
    trainingSeconds: models.reduce((s, m) => s + m.trainingMs, 0) / 1000,
    samplesScored: models.reduce((s, m) => s + m.numScored, 0),
    scoringSeconds: models.reduce((s, m) => s + m.scoringMs, 0) / 1000,
    evaluationSeconds,
  };
}

/** The numbers that compare pipelines: how well the serving model did over time, and at what cost. */
export interface PipelineFigures extends TransferFigures {
  meanCompositeAccuracy: number | null;
  cost: PipelineCost;
}

export function pipelineFigures(
  matrix: EvaluationMatrix, triggers: { numSelected: number | null }[], models: ModelCost[], evaluationSeconds: number,
  chanceAccuracy: number | null,
): PipelineFigures {
  return {
    meanCompositeAccuracy: meanCompositeAccuracy(compositeSeries(matrix)),
    ...transferFigures(matrix, chanceAccuracy),
    cost: pipelineCost(triggers, models, evaluationSeconds),
  };
}
