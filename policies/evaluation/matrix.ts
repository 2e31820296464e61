import type { KeyRange } from '../batches.js';

/** An evaluation interval: one trigger's new data, or the data that arrived after the last trigger. */
export interface EvalInterval extends KeyRange {
  intervalId: number;
}

/** One entry of the evaluation matrix: a model (by the trigger that trained it) on an interval. */
export interface EvalCell {
  modelTrigger: number;
  intervalId: number;
}

/**
 * Which models are evaluated (the spec's `evaluation.models`): the whole matrix, every model on every interval,
 * which costs O(T²) over T triggers; `active`, the cells of the two composite models, each interval scored by the
 * model that served it (the latest trained before it) and by the model trained on it, O(T); `trained`, only
 * each model on its own interval.
 */
export type EvaluatedModels = 'matrix' | 'active' | 'trained';

/**
 * Cells that become computable once trigger `t` has trained its model: the new model on every
 * interval so far (its past and its own), and every earlier model on the intervals since the last
 * trained one (their future, including triggers whose training set was empty).
 * Over a pipeline this fills the whole matrix exactly once; the other modes take their part of it.
 */
export function cellsAfterTrigger(t: number, trainedBefore: number[], models: EvaluatedModels = 'matrix'): EvalCell[] {
  const cells: EvalCell[] = [];
  const lastTrained = trainedBefore.at(-1) ?? -1;
  for (let interval = models === 'matrix' ? 0 : t; interval <= t; interval++) cells.push({ modelTrigger: t, intervalId: interval });
  const earlier = models === 'matrix' ? trainedBefore : models === 'active' ? trainedBefore.slice(-1) : [];
  for (const model of earlier) {
    for (let interval = lastTrained + 1; interval <= t; interval++) cells.push({ modelTrigger: model, intervalId: interval });
  }
  return cells;
}

/** Cells for the data after the last trigger, evaluated when the pipeline stops: every model on it, or the one serving it. */
export function cellsForTrailingInterval(intervalId: number, trained: number[], models: EvaluatedModels = 'matrix'): EvalCell[] {
  return (models === 'matrix' ? trained : trained.slice(-1)).map((modelTrigger) => ({ modelTrigger, intervalId }));
}
