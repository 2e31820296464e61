import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { ActivityDeps } from '../activities/index.js';
import { tidelinePlugin, type WorkerRole } from './plugin.js';

export interface WorkersOptions {
  connection: NativeConnection;
  namespace: string;
  roles: WorkerRole[];
  deps: ActivityDeps;
  cpuQueue: string;
  gpuQueue: string;
  /** A prebuilt workflow bundle (tests share one); otherwise the control worker bundles on start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

/** Creates the workers for the given roles on one connection. */
export async function createWorkers(opts: WorkersOptions): Promise<Worker[]> {
  const workers: Worker[] = [];
  for (const role of opts.roles) {
    const plugin = tidelinePlugin(role, opts.deps);
    if (role === 'control') {
      workers.push(
        await Worker.create({
          connection: opts.connection,
          namespace: opts.namespace,
          taskQueue: opts.cpuQueue,
          plugins: [plugin],
          ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle, workflowsPath: undefined } : {}),
        }),
      );
    } else {
      workers.push(
        await Worker.create({
          connection: opts.connection,
          namespace: opts.namespace,
          taskQueue: opts.gpuQueue,
          plugins: [plugin],
          // One model at a time per accelerator; a stopping worker lets the step in flight finish
          // and the next attempt resumes from the last checkpoint.
          maxConcurrentActivityTaskExecutions: 1,
          shutdownGraceTime: '5s',
        }),
      );
    }
  }
  return workers;
}

/** Runs workers until `signal` aborts (or one of them fails), then shuts all of them down. */
export async function runWorkers(workers: Worker[], signal: AbortSignal): Promise<void> {
  const stop = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
  signal.addEventListener('abort', stop, { once: true });
  try {
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    signal.removeEventListener('abort', stop);
    stop();
  }
}
