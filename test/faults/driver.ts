import type { PipelineStatus } from '../../workflows/messages.js';
import { position } from './pipeline-run.js';
import { comparePoints, describePoint, pointOf, runDir, trainingOnDisk, type Point } from './progress.js';

export interface Fault {
  /** What it does, e.g. "gpu worker SIGKILLed". */
  kind: string;
  /** False while injecting it at `point` would not mean what it says (the worker it kills has not started polling yet). */
  armed(point: Point): boolean;
  /** Injects the fault; what it returns is added to where it hit. */
  inject(): Promise<string | void>;
  /**
   * True for a fault that is safe only at its point (killing the control worker or the server while a cpu
   * activity runs would cost that activity its 10-minute start-to-close timeout): passed unseen, it is missed.
   */
  onlyOnTime?: boolean;
}

/** A fault at a point; `delayMs` after reaching it (a point between two checkpoints). */
export interface Planned {
  point: Point;
  delayMs?: number;
  fault: Fault;
}

export interface Injected {
  kind: string;
  planned: string;
  /** Where the pipeline was when the fault hit, as the status query and the store said. */
  observed: string;
  /** The pipeline had passed the point before it was seen there (a stage shorter than a look). */
  late: boolean;
}

/** How long a look at a training run waits for the checkpoint it needs before the status is asked again. */
const DISK_WAIT_MS = 30_000;
const DISK_POLL_MS = 5;

/**
 * A watch for runPipeline that injects `planned` faults in order, each as the pipeline reaches its point: for
 * training points, as soon as the run's checkpoint at (or past) that step count is on disk ("right after a
 * checkpoint"), plus the point's delay. A point the pipeline passed unseen gets its fault at the next look.
 */
export function faultsAt(storeDir: string, planned: Planned[]) {
  const queue = [...planned].sort((a, b) => comparePoints(a.point, b.point));
  const injected: Injected[] = [];
  const missed: string[] = [];

  /** Waits on disk for a training point of the trigger now training: what was reached, or undefined. */
  async function reachOnDisk(dir: string, target: Point): Promise<{ observed: string; late: boolean } | undefined> {
    for (const deadline = Date.now() + DISK_WAIT_MS; Date.now() < deadline; ) {
      const disk = await trainingOnDisk(dir);
      if (disk.final) return { observed: describePoint({ trigger: target.trigger, phase: 'trained' }), late: target.phase === 'training' };
      if (target.phase === 'training' && disk.steps >= target.steps!) {
        return { observed: describePoint({ ...target, steps: disk.steps }), late: false };
      }
      await new Promise((r) => setTimeout(r, DISK_POLL_MS));
    }
    return undefined;
  }

  async function watch(status: PipelineStatus | undefined): Promise<void> {
    const next = queue[0];
    if (!next || !status || status.pipelineId === undefined || !next.fault.armed(next.point)) return;
    const at = pointOf(position(status.current));
    if (at === undefined) return;
    const target = next.point;
    let reached: { observed: string; late: boolean } | undefined;
    if (at === 'done') {
      reached = { observed: 'the pipeline had finished its last step', late: true };
    } else if (at.trigger === target.trigger && at.phase === 'training' && (target.phase === 'training' || target.phase === 'trained')) {
      reached = await reachOnDisk(runDir(storeDir, status.pipelineId, at.trigger), target);
    } else {
      const order = comparePoints({ trigger: at.trigger, phase: at.phase }, { trigger: target.trigger, phase: target.phase });
      if (order >= 0) reached = { observed: describePoint(at), late: order > 0 };
    }
    if (!reached) return;
    if (reached.late && next.fault.onlyOnTime) {
      queue.shift();
      missed.push(`${next.fault.kind} at ${describePoint(next.point)} (the pipeline was at ${reached.observed})`);
      return;
    }
    if (next.delayMs) await new Promise((r) => setTimeout(r, next.delayMs));
    const note = await next.fault.inject();
    queue.shift();
    injected.push({
      kind: next.fault.kind, planned: describePoint(next.point) + (next.delayMs ? ` + ${next.delayMs} ms` : ''),
      ...reached, observed: reached.observed + (note ? ` (${note})` : ''),
    });
  }

  return { watch, injected, missed, pending: () => queue.length };
}
