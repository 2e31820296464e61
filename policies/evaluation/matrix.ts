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
 * Cells that become computable once trigger `t` has trained its model: the new model on every
 * interval so far (its past and its own), and every earlier model on the intervals since the last
 * trained one (their future, including triggers whose training set was empty).
 * Over a pipeline this fills the whole matrix exactly once.
 */
export function cellsAfterTrigger(t: number, trainedBefore: number[]): EvalCell[] {
  const cells: EvalCell[] = [];
  for (let interval = 0; interval <= t; interval++) cells.push({ modelTrigger: t, intervalId: interval });
  const lastTrained = trainedBefore.at(-1) ?? -1;
  for (const model of trainedBefore) {
    for (let interval = lastTrained + 1; interval <= t; interval++) cells.push({ modelTrigger: model, intervalId: interval });
  }
  return cells;
}

/** Cells for the data after the last trigger, evaluated when the pipeline stops: every model on it. */
export function cellsForTrailingInterval(intervalId: number, trained: number[]): EvalCell[] {
  return trained.map((modelTrigger) => ({ modelTrigger, intervalId }));
}
