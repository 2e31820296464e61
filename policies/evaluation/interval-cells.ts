import type { EvalCell, EvaluatedModels } from './matrix.js';
import type { TimeInterval } from './intervals/interval.js';
import { activeAt, trainedAt, type TrainedModel } from './serving-models.js';

/**
 * The (model, interval) cells of an evaluation in sample time: every model on every interval (`matrix`, O(T·I)),
 * the models of both composites, active and trained, on each interval (`active`, O(I)), or only the trained one
 * (`trained`). An interval that names its model (the offset strategy) is evaluated with that model alone.
 */
export function intervalCells(intervals: readonly TimeInterval[], models: readonly TrainedModel[], mode: EvaluatedModels): EvalCell[] {
  const cells: EvalCell[] = [];
  for (const interval of intervals) {
    const { intervalId } = interval;
    if (interval.model !== undefined) {
      if (models.some((m) => m.trigger === interval.model)) cells.push({ modelTrigger: interval.model, intervalId });
      continue;
    }
    const chosen = mode === 'matrix' ? models.map((m) => m.trigger)
      : [mode === 'active' ? activeAt(interval.startTs, models) : null, trainedAt(interval.startTs, models)];
    for (const modelTrigger of new Set(chosen)) if (modelTrigger !== null) cells.push({ modelTrigger, intervalId });
  }
  return cells;
}
