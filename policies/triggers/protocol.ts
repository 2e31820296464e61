import type { BatchDescriptor, KeyRange } from '../batches.js';

/**
 * The trigger-policy protocol. A policy is a pure, deterministic state machine: the pipeline workflow
 * feeds it events and runs the commands it emits, in order, feeding each command's result back as the
 * next event. Every input of a decision is an event recorded in the workflow's history, so a replay
 * reproduces every decision; the state is plain JSON, O(window) in size, carried through continue-as-new.
 *
 * Every command yields exactly one event:
 * - `split`   → `split` (the batch's segments, cut at the asked sample timestamps);
 * - `measure` → `measured` (small results: scores, counts; never per-sample data);
 * - `cut`     → `triggered` (the trigger ending at that key ran; its model, or null when nothing was trained).
 * A `data` event arrives only once every earlier command has been answered.
 */

/** A model as the pipeline trained it, for policies that measure with "the current model". */
export interface TrainedModel {
  modelId: number;
  /** Samples the model was trained on (its training set). */
  samples: number;
  trainingMs: number;
}

/**
 * A window of samples for a measurement: keys in [firstKey, lastKey], narrowed to the last `lastSamples`
 * of them, or to those within `lastSeconds` of sample time before the newest one, when given.
 */
export interface SampleWindow extends KeyRange {
  lastSamples?: number;
  lastSeconds?: number;
}

/** A drift metric over embeddings; `lib/eval/drift` computes each. */
export type DriftMetricKind = 'mmd' | 'ks' | 'cvm' | 'hellinger' | 'meanDistance';

export interface DriftMetricRequest {
  kind: DriftMetricKind;
  /** ks and cvm: multiple-testing correction over embedding dimensions, and its level. */
  correction?: 'bonferroni' | 'fdr';
  pValue?: number;
  /** hellinger: histogram bins per dimension. */
  bins?: number;
}

/** What a `measure` command asks the workers to compute. */
export type MeasureRequest =
  /** The model's `embedding` output on two windows, compared by each metric (gpu queue). */
  | {
      kind: 'embeddingDrift';
      modelId: number;
      reference: SampleWindow;
      current: SampleWindow;
      metrics: DriftMetricRequest[];
      /** A seeded uniform subsample of at most this many samples per window. */
      sampleSize?: number;
      seed: number;
    }
  /** The model's predictions on labelled samples (gpu queue). */
  | { kind: 'performance'; modelId: number; window: SampleWindow }
  /** Counts and sample-time sums of a key range, for latency regret (cpu queue). */
  | { kind: 'dataTime'; range: KeyRange };

export interface DriftMetricResult {
  kind: DriftMetricKind;
  /** Larger means more drift: MMD², mean per-dimension statistic, distance. */
  score: number;
  /** ks and cvm: the smallest corrected p-value, and whether the corrected test rejects. */
  pValue?: number;
  drift?: boolean;
}

export type MeasureResult =
  | { kind: 'embeddingDrift'; referenceCount: number; currentCount: number; metrics: DriftMetricResult[] }
  | { kind: 'performance'; count: number; correct: number; accuracy: number; macroF1: number }
  | { kind: 'dataTime'; count: number; minTs: number; maxTs: number; sumTs: number };

export type TriggerEvent =
  | { kind: 'data'; batch: BatchDescriptor }
  | { kind: 'split'; tag: string; segments: BatchDescriptor[] }
  | { kind: 'measured'; tag: string; result: MeasureResult }
  /** The pipeline triggered at `lastKey`: the outcome of a cut, or news of another member's cut in an ensemble. */
  | { kind: 'triggered'; lastKey: number; model: TrainedModel | null }
  /** From an ensemble to a member: its cut at `lastKey` did not make the ensemble trigger. */
  | { kind: 'declined'; lastKey: number }
  /**
   * From an ensemble to a member: the pipeline's triggers through `through` are known, so a policy that
   * measures the current model may decide at `through + 1` at the latest. A policy that never hears one
   * is alone and decides whenever its data allows.
   */
  | { kind: 'horizon'; through: number };

export type TriggerCommand =
  | { kind: 'split'; tag: string; batch: BatchDescriptor; at: number[] }
  | { kind: 'measure'; tag: string; request: MeasureRequest }
  /** Trigger with every sample up to and including `lastKey`; `reason` is shown to users. */
  | { kind: 'cut'; lastKey: number; reason: string };

/** One evaluation of a policy, stored for users: what was measured, against what, and what it decided. */
export interface PolicyEvaluation {
  /** The policy's place in the spec: `trigger`, `trigger.members.drift`, `trigger.warmup`. */
  policy: string;
  /** The evaluation interval: the new data this decision covers. */
  interval: KeyRange;
  modelId: number | null;
  /** Named scores and the thresholds they were held against (absent for rule-based decisions). */
  scores: Record<string, number>;
  thresholds: Record<string, number>;
  /** Per-metric or per-member votes, when a decision aggregates several. */
  votes?: Record<string, boolean>;
  triggered: boolean;
  reason: string;
  /** The measurement that was run for it, if any. */
  request?: MeasureRequest;
}

export interface StepResult<State> {
  state: State;
  commands: TriggerCommand[];
  evaluations: PolicyEvaluation[];
}

export interface TriggerPolicy<State> {
  initialState(): State;
  /** Consumes one event. Pure: the same state and event always give the same result. */
  step(state: State, event: TriggerEvent): StepResult<State>;
  /**
   * The last key through which the policy has decided everything: no later event can make it cut at or
   * before this key. An ensemble decides a candidate cut only once every member has decided through it.
   */
  decidedThrough(state: State): number;
}

export type AnyTriggerPolicy = TriggerPolicy<unknown>;

/** A step that changes nothing and asks for nothing. */
export function idle<State>(state: State): StepResult<State> {
  return { state, commands: [], evaluations: [] };
}
