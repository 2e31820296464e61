/**
 * An evaluation interval in sample time, [startTs, endTs): the strategies of the spec's `evaluation.afterPipeline`
 * and of `tide evaluate` cut the data's timestamps into these, independently of when triggers fired.
 */
export interface TimeInterval {
  intervalId: number;
  startTs: number;
  /** Exclusive. */
  endTs: number;
  /** The trigger whose model alone is evaluated on it (the offset strategy's intervals around each training). */
  model?: number;
}

/** What a strategy cuts its intervals from. */
export interface PlanningContext {
  /** The evaluated samples' time span, [minTs, maxTs]; null when there are none. */
  data: { minTs: number; maxTs: number } | null;
  /** The pipeline's triggers in order: the time span of each one's new data, and whether it trained a model. */
  triggers: { triggerId: number; minTs: number; maxTs: number; trained: boolean }[];
}

/** More intervals than this is a typo in `every` (e.g. "1s" over a year), refused before any work. */
export const MAX_INTERVALS = 10_000;
