/**
 * Which model served an interval of sample time, and which one was trained on it: the two composite models of
 * evaluations in sample time (modyn.md §7). A model is named by its trigger; its data ends at `maxTs`, the newest
 * timestamp of the new data its trigger covered.
 */
export interface TrainedModel {
  trigger: number;
  maxTs: number;
}

/** The model deployed when the interval starts: the latest one trained only on data before it. */
export function activeAt(startTs: number, models: readonly TrainedModel[]): number | null {
  let active: TrainedModel | null = null;
  for (const model of models) if (model.maxTs < startTs && (active === null || model.trigger > active.trigger)) active = model;
  return active?.trigger ?? null;
}

/** The model trained on the interval's data: the first one whose data reaches the interval's start. */
export function trainedAt(startTs: number, models: readonly TrainedModel[]): number | null {
  let trained: TrainedModel | null = null;
  for (const model of models) if (model.maxTs >= startTs && (trained === null || model.trigger < trained.trigger)) trained = model;
  return trained?.trigger ?? null;
}
