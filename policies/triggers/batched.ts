import type { KeyRange } from '../batches.js';
import { forMember, routeTag, stepMember } from './members.js';
import type {
  AnyTriggerPolicy, MeasureRequest, MeasureResult, PolicyEvaluation, StepResult, TrainedModel, TriggerCommand, TriggerEvent, TriggerPolicy,
} from './protocol.js';
import type { WarmupSpec } from './schema.js';

/**
 * The shared engine of the model-aware triggers (dataDrift, performance, cost), as Modyn's batched triggers:
 * the policy is evaluated every `every` samples of new data (leftovers carry over), one interval at a time,
 * each with one measurement that the workflow runs with the current model. Before any model exists the first
 * evaluation always triggers. During the first `warmup.evaluations` evaluations a time or amount policy
 * decides instead, while the measurements still calibrate the kind's dynamic criteria. A cut waits for its
 * outcome before the next interval is evaluated, so that evaluation measures the model it produced.
 */

export interface BatchedState<K> {
  /** First and last key seen. */
  firstKey: number | null;
  seenKey: number;
  /** First key of the next evaluation interval (0 before any data). */
  intervalStart: number;
  /** Last key of the pipeline's latest trigger, whoever caused it (0: none yet). */
  lastTriggered: number;
  /** The current model, and the new data of the trigger that trained it. */
  model: TrainedModel | null;
  trainedOn: KeyRange | null;
  evaluations: number;
  waiting: null | { for: 'warmup'; end: number } | { for: 'measure'; end: number; request: MeasureRequest } | { for: 'cut'; lastKey: number };
  /** Through which key the pipeline's triggers are known, inside an ensemble (null: alone, always known). */
  horizon: number | null;
  /** The warm-up policy's state and the cuts it made that no interval has consumed yet; dropped after the warm-up. */
  warmup?: { state: unknown; cuts: number[] };
  kind: K;
}

export interface Decision<K> {
  kind: K;
  fires: boolean;
  reason: string;
  scores: Record<string, number>;
  thresholds: Record<string, number>;
  votes?: Record<string, boolean>;
}

/** What a model-aware trigger adds to the engine. */
export interface BatchedKind<K> {
  initial(): K;
  /** The measurement of one interval with the current model. */
  measure(state: BatchedState<K>, interval: KeyRange, model: TrainedModel): MeasureRequest;
  /** The verdict on a measurement; during the warm-up it only calibrates, the warm-up policy decides. */
  decide(state: BatchedState<K>, interval: KeyRange, result: MeasureResult): Decision<K>;
  /** After every trigger of the pipeline, whoever caused it; `model` is null when it trained nothing. */
  afterTrigger(kind: K, model: TrainedModel | null): K;
}

export function batchedTrigger<K>(every: number, warmup: WarmupSpec | undefined, warmupPolicy: AnyTriggerPolicy | undefined, kind: BatchedKind<K>): TriggerPolicy<BatchedState<K>> {
  const inWarmup = (s: BatchedState<K>) => warmup !== undefined && s.evaluations < warmup.evaluations;

  /** Evaluates complete intervals until one needs an answer from outside. */
  function advance(s: BatchedState<K>, out: StepResult<BatchedState<K>>): StepResult<BatchedState<K>> {
    while (!s.waiting && s.intervalStart > 0 && s.seenKey - s.intervalStart + 1 >= every) {
      const interval = { firstKey: s.intervalStart, lastKey: s.intervalStart + every - 1 };
      // In an ensemble, another member may still trigger before this interval ends: wait to know the model.
      if (s.horizon !== null && s.horizon < interval.lastKey - 1) break;
      if (s.model === null) {
        const reason = 'no model yet: the first evaluation triggers';
        s = { ...s, intervalStart: interval.lastKey + 1, evaluations: s.evaluations + 1, waiting: { for: 'cut', lastKey: interval.lastKey } };
        out.evaluations.push({ policy: '', interval, modelId: null, scores: {}, thresholds: {}, triggered: true, reason });
        out.commands.push({ kind: 'cut', lastKey: interval.lastKey, reason });
        break;
      }
      if (inWarmup(s) && warmupPolicy!.decidedThrough(s.warmup!.state) < interval.lastKey) {
        s = { ...s, waiting: { for: 'warmup', end: interval.lastKey } };
        break;
      }
      const request = kind.measure(s, interval, s.model);
      s = { ...s, waiting: { for: 'measure', end: interval.lastKey, request } };
      out.commands.push({ kind: 'measure', tag: '', request });
    }
    return { ...out, state: s };
  }

  function measured(s: BatchedState<K>, result: MeasureResult): StepResult<BatchedState<K>> {
    const { end, request } = s.waiting as { end: number; request: MeasureRequest };
    const interval = { firstKey: end - every + 1, lastKey: end };
    const decision = kind.decide(s, interval, result);
    let { fires, reason } = decision;
    let warmupState = s.warmup;
    if (inWarmup(s)) {
      const fired = s.warmup!.cuts.some((k) => k <= end);
      warmupState = { ...s.warmup!, cuts: s.warmup!.cuts.filter((k) => k > end) };
      fires = fired;
      reason = `warm-up ${s.evaluations + 1}/${warmup!.evaluations}: the ${warmup!.policy.kind} policy ${fired ? 'fired' : 'did not fire'} (${decision.reason})`;
    }
    const evaluations = s.evaluations + 1;
    const next: BatchedState<K> = {
      ...s, kind: decision.kind, evaluations, intervalStart: end + 1,
      warmup: warmup && evaluations < warmup.evaluations ? warmupState : undefined,
      waiting: fires ? { for: 'cut', lastKey: end } : null,
    };
    const evaluation: PolicyEvaluation = {
      policy: '', interval, modelId: s.model?.modelId ?? null, scores: decision.scores, thresholds: decision.thresholds,
      ...(decision.votes && { votes: decision.votes }), triggered: fires, reason, request,
    };
    const commands: TriggerCommand[] = fires ? [{ kind: 'cut', lastKey: end, reason }] : [];
    return fires ? { state: next, commands, evaluations: [evaluation] } : advance(next, { state: next, commands, evaluations: [evaluation] });
  }

  /** The warm-up policy sees the same data; its cuts are remembered, never sent. */
  function toWarmup(s: BatchedState<K>, event: TriggerEvent, out: StepResult<BatchedState<K>>): BatchedState<K> {
    if (!s.warmup || !warmupPolicy) return s;
    let member = stepMember(warmupPolicy, s.warmup.state, event, 'warmup', 'warmup');
    let state = member.state;
    const cuts = [...s.warmup.cuts];
    const pending = [...member.cuts];
    out.commands.push(...member.commands);
    while (pending.length > 0) {
      const cut = pending.shift()!;
      cuts.push(cut.lastKey);
      member = stepMember(warmupPolicy, state, { kind: 'declined', lastKey: cut.lastKey }, 'warmup', 'warmup');
      state = member.state;
      out.commands.push(...member.commands);
      pending.push(...member.cuts);
    }
    return { ...s, warmup: { state, cuts } };
  }

  return {
    initialState: () => ({
      firstKey: null, seenKey: 0, intervalStart: 0, lastTriggered: 0, model: null, trainedOn: null, evaluations: 0, waiting: null, horizon: null,
      ...(warmupPolicy && { warmup: { state: warmupPolicy.initialState(), cuts: [] } }),
      kind: kind.initial(),
    }),
    /** Cuts fall only on interval ends, so the keys before the next end are decided. */
    decidedThrough(s) {
      if (!s.waiting) return s.intervalStart === 0 ? s.seenKey : Math.min(s.seenKey, s.intervalStart + every - 2);
      return s.waiting.for === 'cut' ? s.waiting.lastKey : s.waiting.end - 1;
    },
    step(s, event) {
      const out: StepResult<BatchedState<K>> = { state: s, commands: [], evaluations: [] };
      switch (event.kind) {
        case 'data': {
          const { batch } = event;
          s = { ...s, firstKey: s.firstKey ?? batch.firstKey, seenKey: batch.lastKey, intervalStart: s.intervalStart || batch.firstKey };
          s = toWarmup(s, event, out);
          return s.waiting ? { ...out, state: s } : advance(s, out);
        }
        case 'split':
        case 'measured': {
          const route = routeTag(event.tag);
          if (route?.member === 'warmup') {
            s = toWarmup(s, forMember(event, route.tag), out);
            if (s.waiting?.for === 'warmup' && warmupPolicy!.decidedThrough(s.warmup!.state) >= s.waiting.end) s = { ...s, waiting: null };
            return s.waiting ? { ...out, state: s } : advance(s, out);
          }
          if (event.kind !== 'measured' || s.waiting?.for !== 'measure') return out;
          return measured(s, event.result);
        }
        case 'triggered': {
          const own = s.waiting?.for === 'cut' && s.waiting.lastKey === event.lastKey;
          const trainedOn = event.model ? { firstKey: s.lastTriggered + 1, lastKey: event.lastKey } : s.trainedOn;
          s = {
            ...s, lastTriggered: event.lastKey, model: event.model ?? s.model, trainedOn,
            kind: kind.afterTrigger(s.kind, event.model), waiting: own ? null : s.waiting,
          };
          return own ? advance(s, out) : { ...out, state: s };
        }
        case 'horizon':
          s = { ...s, horizon: event.through };
          return s.waiting ? { ...out, state: s } : advance(s, out);
        case 'declined': {
          if (s.waiting?.for !== 'cut' || s.waiting.lastKey !== event.lastKey) return out;
          // An ensemble declined this policy's cut: nothing was trained, so regrets and counts stand.
          return advance({ ...s, waiting: null }, out);
        }
      }
    },
  };
}
