import type { KeyRange } from '../batches.js';
import { parseDuration } from '../duration.js';
import { batchedTrigger, type BatchedState } from './batched.js';
import { crossesCriterion, lookBack, remember } from './criteria.js';
import type { AnyTriggerPolicy, DriftMetricRequest, SampleWindow, TriggerPolicy } from './protocol.js';
import type { DataDriftSpec, DriftMetricSpec } from './schema.js';
import { carries, describeVote } from './votes.js';

export interface DriftState {
  /** Each metric's past scores, for its dynamic criterion. */
  history: number[][];
}

/** Score names in evaluations: the metric's kind, numbered when a kind appears twice. */
function metricNames(metrics: DriftMetricSpec[]): string[] {
  return metrics.map((m, i) => (metrics.filter((o) => o.kind === m.kind).length > 1 ? `${m.kind}${i}` : m.kind));
}

function metricRequest(metric: DriftMetricSpec): DriftMetricRequest {
  switch (metric.kind) {
    case 'ks':
    case 'cvm':
      return { kind: metric.kind, correction: metric.correction, pValue: metric.pValue };
    case 'hellinger':
      return { kind: metric.kind, bins: metric.bins };
    default:
      return { kind: metric.kind };
  }
}

/**
 * Triggers when the current model's embeddings of the data since the last trigger drift away from its
 * embeddings of the data it was trained on (the new data of the trigger that trained it). Each metric
 * votes through its criterion (or, for ks and cvm without one, through the corrected per-dimension test);
 * the aggregation turns the votes into the decision.
 */
export function dataDriftTrigger(spec: DataDriftSpec, seed: number, warmupPolicy: AnyTriggerPolicy | undefined): TriggerPolicy<BatchedState<DriftState>> {
  const names = metricNames(spec.metrics);
  const narrow = 'samples' in spec.window ? { lastSamples: spec.window.samples } : { lastSeconds: parseDuration(spec.window.duration) };
  const window = (firstKey: number, lastKey: number): SampleWindow => ({ firstKey, lastKey, ...narrow });

  return batchedTrigger<DriftState>(spec.every, spec.warmup, warmupPolicy, {
    initial: () => ({ history: spec.metrics.map(() => []) }),
    measure(s, interval: KeyRange, model) {
      const trainedOn = s.trainedOn!;
      const since = spec.allowOverlap ? s.firstKey! : s.lastTriggered + 1;
      return {
        kind: 'embeddingDrift',
        modelId: model.modelId,
        reference: window(spec.allowOverlap ? s.firstKey! : trainedOn.firstKey, trainedOn.lastKey),
        current: window(since, interval.lastKey),
        metrics: spec.metrics.map(metricRequest),
        ...(spec.sampleSize !== undefined && { sampleSize: spec.sampleSize }),
        seed,
      };
    },
    decide(s, _interval, result) {
      if (result.kind !== 'embeddingDrift') throw new Error(`dataDrift trigger: expected an embeddingDrift result, got ${result.kind}`);
      const scores: Record<string, number> = {};
      const thresholds: Record<string, number> = {};
      const votes: Record<string, boolean> = {};
      const history = spec.metrics.map((metric, i) => {
        const measured = result.metrics[i]!;
        const name = names[i]!;
        scores[name] = measured.score;
        if (measured.pValue !== undefined) scores[`${name}.p`] = measured.pValue;
        if (metric.criterion) {
          const { fires, threshold } = crossesCriterion(metric.criterion, s.kind.history[i]!, measured.score, 'above');
          votes[name] = fires;
          if (threshold !== null) thresholds[name] = threshold;
        } else {
          votes[name] = measured.drift === true;
          thresholds[`${name}.p`] = (metric as { pValue: number }).pValue;
        }
        return remember(s.kind.history[i]!, measured.score, lookBack(metric.criterion ? [metric.criterion] : []));
      });
      const yes = Object.values(votes).filter(Boolean).length;
      const fires = carries(spec.aggregation, yes, spec.metrics.length);
      const drifting = names.filter((n) => votes[n]);
      const reason = fires
        ? `drift: ${drifting.join(', ')} (${yes} of ${spec.metrics.length}, ${describeVote(spec.aggregation)} needed)`
        : `no drift (${yes} of ${spec.metrics.length} metrics, ${describeVote(spec.aggregation)} needed)`;
      return { kind: { history }, fires, reason, scores, thresholds, votes };
    },
    afterTrigger: (kind) => kind,
  });
}
