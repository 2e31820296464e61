import type { Worker } from '@temporalio/worker';
import { runWorkers } from '../workers/workers.js';

/**
 * runWorkers until `signal` aborts, also when it aborted while the workers were being created (an abort
 * event that already fired never reaches runWorkers): they then start only to shut down at once, which
 * releases their connection so the command can close it and stop its stack.
 */
export function runWorkersUntil(workers: Worker[], signal: AbortSignal): Promise<void> {
  return runWorkers(workers, signal.aborted ? AbortSignal.timeout(0) : signal);
}
