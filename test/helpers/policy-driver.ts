import type { BatchDescriptor } from '../../policies/batches.js';
import type {
  AnyTriggerPolicy, MeasureRequest, MeasureResult, PolicyEvaluation, TriggerCommand, TriggerEvent,
} from '../../policies/triggers/protocol.js';

/**
 * Runs a trigger policy as the pipeline workflow does, without Temporal: feeds batches, answers its commands
 * in order (splits from the samples' timestamps, measurements from `measure`, cuts by "training" a model with
 * the next id), and round-trips the state through JSON at every step, as continue-as-new would.
 */
export interface DriverOptions {
  /** Timestamps of every sample, by key − 1 (needed for splits). */
  timestamps?: number[];
  measure?: (request: MeasureRequest, cuts: number[]) => MeasureResult;
  /** Training cost of a trigger, for cost policies. */
  trainingMs?: (samples: number) => number;
  /** A cut that trains nothing (an empty training set). */
  trainsNothing?: (lastKey: number) => boolean;
}

export interface DriverRun {
  cuts: number[];
  reasons: string[];
  evaluations: PolicyEvaluation[];
  requests: MeasureRequest[];
  commands: TriggerCommand[];
}

export function splitByTimestamps(batch: BatchDescriptor, timestamps: number[], points: number[]): BatchDescriptor[] {
  const edges = [-Infinity, ...points, Infinity];
  const segments: BatchDescriptor[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const keys: [number, number][] = [];
    for (let key = batch.firstKey; key <= batch.lastKey; key++) {
      const ts = timestamps[key - 1]!;
      if (ts >= edges[i]! && ts < edges[i + 1]!) keys.push([ts, key]);
    }
    if (keys.length === 0) continue;
    segments.push({
      datasetId: batch.datasetId, firstKey: keys[0]![1], lastKey: keys.at(-1)![1], count: keys.length,
      minTs: Math.min(...keys.map(([ts]) => ts)), maxTs: Math.max(...keys.map(([ts]) => ts)),
    });
  }
  return segments;
}

/** Consecutive batches of the given sizes, with timestamps from `timestamps` (or 0). */
export function batchesOf(sizes: number[], timestamps?: number[]): BatchDescriptor[] {
  let next = 1;
  return sizes.map((count) => {
    const ts = timestamps ? timestamps.slice(next - 1, next - 1 + count) : [0];
    const batch = { datasetId: 1, firstKey: next, lastKey: next + count - 1, count, minTs: Math.min(...ts), maxTs: Math.max(...ts) };
    next += count;
    return batch;
  });
}

export function drive(policy: AnyTriggerPolicy, batches: BatchDescriptor[], opts: DriverOptions = {}): DriverRun {
  const run: DriverRun = { cuts: [], reasons: [], evaluations: [], requests: [], commands: [] };
  let state = policy.initialState();
  let nextModel = 1;
  let lastCut = 0;
  const queue: TriggerCommand[] = [];
  const inform = (event: TriggerEvent) => {
    const out = policy.step(JSON.parse(JSON.stringify(state)), event);
    state = JSON.parse(JSON.stringify(out.state));
    queue.push(...out.commands);
    run.evaluations.push(...out.evaluations);
  };
  for (const batch of batches) {
    inform({ kind: 'data', batch });
    while (queue.length > 0) {
      const command = queue.shift()!;
      run.commands.push(command);
      if (command.kind === 'split') {
        if (!opts.timestamps) throw new Error('a split needs timestamps');
        inform({ kind: 'split', tag: command.tag, segments: splitByTimestamps(command.batch, opts.timestamps, command.at) });
      } else if (command.kind === 'measure') {
        if (!opts.measure) throw new Error(`unexpected measurement ${command.request.kind}`);
        run.requests.push(command.request);
        inform({ kind: 'measured', tag: command.tag, result: opts.measure(command.request, run.cuts) });
      } else {
        run.cuts.push(command.lastKey);
        run.reasons.push(command.reason);
        const samples = command.lastKey - lastCut;
        lastCut = command.lastKey;
        const model = opts.trainsNothing?.(command.lastKey) ? null : { modelId: nextModel++, samples, trainingMs: opts.trainingMs?.(samples) ?? 1000 };
        inform({ kind: 'triggered', lastKey: command.lastKey, model });
      }
    }
  }
  return run;
}
