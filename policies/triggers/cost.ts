import { batchedTrigger, type BatchedState } from './batched.js';
import { forecastTrainingMs, type TrainingCost } from './cost-forecast.js';
import type { AnyTriggerPolicy, TriggerPolicy } from './protocol.js';
import type { CostSpec } from './schema.js';

export interface CostState {
  /** Samples evaluated since the last trigger: the data a trigger now would incorporate. */
  unincorporated: number;
  /** Regret since the last trigger, in the regret's own unit (sample-seconds or misclassifications). */
  regret: number;
  /** Sample time of the newest evaluated sample. */
  lastTs: number | null;
  /** The latest trainings, for the forecast. */
  trainings: TrainingCost[];
  firstAccuracy: number | null;
}

/**
 * Triggers when waiting has cost as much as training would: the regret accumulated since the last trigger,
 * converted to training seconds, reaches the forecast training time of the data not yet incorporated.
 * Latency regret is the area under "samples waiting" over sample time, exact per sample; misclassification
 * regret counts the current model's avoidable misclassifications. Both reset at every trigger.
 */
export function costTrigger(spec: CostSpec, warmupPolicy: AnyTriggerPolicy | undefined): TriggerPolicy<BatchedState<CostState>> {
  const { regret: regretSpec } = spec;
  const unit = regretSpec.kind === 'latency' ? 'sample-seconds' : 'avoidable misclassifications';
  return batchedTrigger<CostState>(spec.every, spec.warmup, warmupPolicy, {
    initial: () => ({ unincorporated: 0, regret: 0, lastTs: null, trainings: [], firstAccuracy: null }),
    measure: (_s, interval, model) =>
      regretSpec.kind === 'latency' ? { kind: 'dataTime', range: interval } : { kind: 'performance', modelId: model.modelId, window: interval },
    decide(s, _interval, result) {
      let { regret, lastTs, firstAccuracy } = s.kind;
      let count: number;
      if (result.kind === 'dataTime') {
        // Samples already waiting wait on until the interval's newest sample; each new one from its own time.
        const now = result.maxTs;
        regret += s.kind.unincorporated * Math.max(0, now - (lastTs ?? result.minTs)) + (result.count * now - result.sumTs);
        lastTs = now;
        count = result.count;
      } else if (result.kind === 'performance' && regretSpec.kind === 'misclassifications') {
        firstAccuracy ??= result.accuracy;
        const expected = regretSpec.expectedAccuracy ?? firstAccuracy;
        regret += Math.max(0, result.count - result.correct - (1 - expected) * result.count);
        count = result.count;
      } else {
        throw new Error(`cost trigger: unexpected ${result.kind} result for ${regretSpec.kind} regret`);
      }
      const unincorporated = s.kind.unincorporated + count;
      const regretSeconds = regret / regretSpec.perTrainingSecond;
      const forecastSeconds = (forecastTrainingMs(s.kind.trainings, unincorporated) ?? 0) / 1000;
      const fires = regretSeconds >= forecastSeconds;
      return {
        kind: { ...s.kind, unincorporated, regret, lastTs, firstAccuracy },
        fires,
        reason: `regret ${regretSeconds.toFixed(2)} s (${regret.toFixed(0)} ${unit}) ${fires ? '≥' : '<'} forecast training ${forecastSeconds.toFixed(2)} s for ${unincorporated} samples`,
        scores: { regretSeconds, regret, unincorporated },
        thresholds: { regretSeconds: forecastSeconds },
      };
    },
    afterTrigger(kind, model) {
      const trainings = model ? [...kind.trainings, { samples: model.samples, trainingMs: model.trainingMs }].slice(-spec.forecastWindow) : kind.trainings;
      return { ...kind, unincorporated: 0, regret: 0, trainings, firstAccuracy: model ? null : kind.firstAccuracy };
    },
  });
}
