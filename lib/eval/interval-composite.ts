/**
 * The composite models of an evaluation in sample time: per interval, the model that served it (the latest
 * trained only on data before it) and the one trained on it, with their accuracies, as `compositeSeries` gives
 * them for the trigger matrix; `meanCompositeAccuracy` averages either. Pure code.
 */
import type { TimeInterval } from '../../policies/evaluation/intervals/interval.js';
import { activeAt, trainedAt, type TrainedModel } from '../../policies/evaluation/serving-models.js';
import type { CompositePoint } from './composite.js';

/** A plan's stored cell, as far as the composite needs it. */
export interface IntervalCell {
  modelTrigger: number;
  intervalId: number;
  numSamples: number;
  accuracy: number | null;
}

export type IntervalCompositePoint = CompositePoint & Pick<TimeInterval, 'startTs' | 'endTs'>;

/** Intervals that name their model (the offset strategy's) belong to that model alone and have no composite point. */
export function intervalCompositeSeries(intervals: readonly TimeInterval[], models: readonly TrainedModel[], cells: readonly IntervalCell[]): IntervalCompositePoint[] {
  const byCell = new Map(cells.map((c) => [`${c.modelTrigger}/${c.intervalId}`, c]));
  const samples = new Map<number, number>();
  for (const c of cells) samples.set(c.intervalId, Math.max(samples.get(c.intervalId) ?? 0, c.numSamples));
  const accuracy = (model: number | null, intervalId: number) => {
    const value = model === null ? undefined : byCell.get(`${model}/${intervalId}`)?.accuracy;
    return value === undefined || value === null || Number.isNaN(value) ? null : value;
  };
  return intervals.filter((i) => i.model === undefined).map(({ intervalId, startTs, endTs }) => {
    const active = activeAt(startTs, models);
    const trained = trainedAt(startTs, models);
    return {
      intervalId, startTs, endTs, activeModel: active, trainedModel: trained,
      activeAccuracy: accuracy(active, intervalId), trainedAccuracy: accuracy(trained, intervalId), numSamples: samples.get(intervalId) ?? 0,
    };
  });
}
