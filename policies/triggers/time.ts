import type { BatchDescriptor } from '../batches.js';
import type { StepResult, TriggerCommand, TriggerPolicy } from './protocol.js';

export interface TimeState {
  /** Sample time at which the current period ends; null until the first sample is seen. */
  boundary: number | null;
  /** Last key seen, and whether samples arrived since the last trigger. */
  lastKey: number;
  pending: boolean;
  /** A batch waiting for the split it asked for, and the last boundary that split covers. */
  splitting?: { lastPoint: number; covered: boolean };
}

/** Boundaries asked for in one split; a batch that spans more is split again from its tail. */
const MAX_POINTS = 64;

/**
 * Triggers once per `everySeconds` of sample time. When a sample at or past the period boundary arrives,
 * the trigger covers everything before it (as Modyn's TimeTrigger does); periods without data produce no
 * empty triggers. A batch is split at the boundaries inside it first, so a cut falls on the exact sample,
 * not on a file edge. The boundaries asked for start at the first one past the batch's oldest sample, so a
 * gap in the data costs nothing, and a batch spanning many periods is split at most MAX_POINTS at a time:
 * the work grows with the periods that hold data, not with the periods in between.
 */
export function timeTrigger(everySeconds: number, start?: number): TriggerPolicy<TimeState> {
  /** The first boundary after `ts`, from the state's boundary (or the first period's) in whole periods. */
  const boundaryAfter = (boundary: number, ts: number) =>
    boundary > ts ? boundary : boundary + (Math.floor((ts - boundary) / everySeconds) + 1) * everySeconds;

  function inform(state: TimeState, segments: BatchDescriptor[]): { state: TimeState; commands: TriggerCommand[] } {
    let { boundary, lastKey, pending } = state;
    const commands: TriggerCommand[] = [];
    for (const segment of segments) {
      boundary ??= (start ?? segment.minTs) + everySeconds;
      if (segment.minTs >= boundary) {
        if (pending) commands.push({ kind: 'cut', lastKey, reason: `a sample of a new period (every ${everySeconds} s of sample time)` });
        pending = false;
        boundary = boundaryAfter(boundary, segment.minTs);
      }
      lastKey = segment.lastKey;
      pending = true;
    }
    return { state: { boundary, lastKey, pending }, commands };
  }

  /** Splits the batch at the boundaries inside it, or informs it whole when none falls inside. */
  function take(state: TimeState, batch: BatchDescriptor): StepResult<TimeState> {
    const points: number[] = [];
    let b = boundaryAfter(state.boundary ?? (start ?? batch.minTs) + everySeconds, batch.minTs);
    for (; b <= batch.maxTs && points.length < MAX_POINTS; b += everySeconds) points.push(b);
    if (points.length === 0) return { ...inform(state, [batch]), evaluations: [] };
    const splitting = { lastPoint: points.at(-1)!, covered: b > batch.maxTs };
    return { state: { ...state, splitting }, commands: [{ kind: 'split', tag: '', batch, at: points }], evaluations: [] };
  }

  return {
    initialState: () => ({ boundary: null, lastKey: 0, pending: false }),
    decidedThrough: (state) => state.lastKey,
    step(state, event) {
      if (event.kind === 'data') return take(state, event.batch);
      if (event.kind !== 'split' || !state.splitting) return { state, commands: [], evaluations: [] };
      const { lastPoint, covered } = state.splitting;
      const rest = { ...state, splitting: undefined };
      if (covered) return { ...inform(rest, event.segments), evaluations: [] };
      // The segments from the last boundary on may span further boundaries: split them again.
      const head = event.segments.filter((s) => s.minTs < lastPoint);
      const tail = event.segments.filter((s) => s.minTs >= lastPoint);
      const informed = inform(rest, head);
      if (tail.length === 0) return { ...informed, evaluations: [] };
      const tailBatch: BatchDescriptor = {
        datasetId: tail[0]!.datasetId, firstKey: tail[0]!.firstKey, lastKey: tail.at(-1)!.lastKey,
        count: tail.reduce((n, s) => n + s.count, 0), minTs: Math.min(...tail.map((s) => s.minTs)), maxTs: Math.max(...tail.map((s) => s.maxTs)),
      };
      const next = take(informed.state, tailBatch);
      return { state: next.state, commands: [...informed.commands, ...next.commands], evaluations: [] };
    },
  };
}
