import { batchedTrigger, type BatchedState } from './batched.js';
import { crossesCriterion, lookBack, remember } from './criteria.js';
import type { AnyTriggerPolicy, TriggerPolicy } from './protocol.js';
import type { PerformanceSpec } from './schema.js';

export interface PerformanceState {
  /** Past values of the metric, for dynamic criteria. */
  history: number[];
  /** Avoidable misclassifications of the current model since the last trigger. */
  avoidable: number;
  /** The current model's accuracy at its first evaluation, the default expectation. */
  firstAccuracy: number | null;
}

/**
 * Triggers when the current model performs badly on each new interval of labelled data: its accuracy or
 * macro F1 under a threshold (static or dynamic), or too many avoidable misclassifications, counted
 * against an expected accuracy since the last trigger (never reduced by a good interval). Any criterion
 * that holds triggers.
 */
export function performanceTrigger(spec: PerformanceSpec, warmupPolicy: AnyTriggerPolicy | undefined): TriggerPolicy<BatchedState<PerformanceState>> {
  const window = lookBack(spec.criteria);
  return batchedTrigger<PerformanceState>(spec.every, spec.warmup, warmupPolicy, {
    initial: () => ({ history: [], avoidable: 0, firstAccuracy: null }),
    measure: (_s, interval, model) => ({ kind: 'performance', modelId: model.modelId, window: interval }),
    decide(s, _interval, result) {
      if (result.kind !== 'performance') throw new Error(`performance trigger: expected a performance result, got ${result.kind}`);
      const value = spec.metric === 'accuracy' ? result.accuracy : result.macroF1;
      const firstAccuracy = s.kind.firstAccuracy ?? result.accuracy;
      let avoidable = s.kind.avoidable;
      const scores: Record<string, number> = { [spec.metric]: value };
      const thresholds: Record<string, number> = {};
      const held: string[] = [];
      for (const criterion of spec.criteria) {
        if (criterion.kind === 'misclassifications') {
          const expected = criterion.expectedAccuracy ?? firstAccuracy;
          avoidable += Math.max(0, result.count - result.correct - (1 - expected) * result.count);
          scores.avoidableMisclassifications = avoidable;
          thresholds.avoidableMisclassifications = criterion.threshold;
          if (avoidable > criterion.threshold) held.push(`${avoidable.toFixed(0)} avoidable misclassifications > ${criterion.threshold}`);
          continue;
        }
        const { fires, threshold } = crossesCriterion(criterion, s.kind.history, value, 'below');
        if (threshold !== null) thresholds[`${spec.metric}.${criterion.kind}`] = threshold;
        if (fires) held.push(`${spec.metric} ${value.toFixed(4)} < ${threshold!.toFixed(4)} (${criterion.kind})`);
      }
      return {
        kind: { history: remember(s.kind.history, value, window), avoidable, firstAccuracy },
        fires: held.length > 0,
        reason: held.length > 0 ? held.join('; ') : `${spec.metric} ${value.toFixed(4)} holds`,
        scores,
        thresholds,
      };
    },
    afterTrigger: (kind, model) => (model ? { ...kind, avoidable: 0, firstAccuracy: null } : { ...kind, avoidable: 0 }),
  });
}
