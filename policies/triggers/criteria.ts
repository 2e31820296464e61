import type { CriterionSpec } from './schema.js';

/**
 * Decides whether a score crosses a criterion, against the history of earlier scores. `direction` says
 * which side is bad: drift scores fire `above` the threshold, accuracy fires `below` it. Dynamic criteria
 * follow the last `window` scores: with none yet (nothing calibrated) they never fire.
 */
export function crossesCriterion(
  criterion: CriterionSpec,
  history: number[],
  score: number,
  direction: 'above' | 'below',
): { fires: boolean; threshold: number | null } {
  const threshold = thresholdOf(criterion, history, direction);
  if (threshold === null) return { fires: false, threshold };
  return { fires: direction === 'above' ? score > threshold : score < threshold, threshold };
}

function thresholdOf(criterion: CriterionSpec, history: number[], direction: 'above' | 'below'): number | null {
  if (criterion.kind === 'threshold') return criterion.value;
  const recent = history.slice(-criterion.window);
  if (recent.length === 0) return null;
  if (criterion.kind === 'quantile') return quantile(recent, direction === 'above' ? 1 - criterion.quantile : criterion.quantile);
  const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
  const deviation = criterion.absolute ? criterion.deviation : Math.abs(mean) * criterion.deviation;
  return direction === 'above' ? mean + deviation : mean - deviation;
}

/** The q-quantile with linear interpolation between order statistics (numpy's default). */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Keeps the scores a criterion looks back on: the last `window` of them, the longest any criterion needs. */
export function remember(history: number[], score: number, window: number): number[] {
  return [...history, score].slice(-window);
}

/** The longest look-back of a set of criteria (1 when all are static). */
export function lookBack(criteria: (CriterionSpec | { kind: string })[]): number {
  return Math.max(1, ...criteria.map((c) => ('window' in c ? c.window : 1)));
}
