import { WorkflowFailedError } from '@temporalio/client';
import type { PipelineSpecInput } from '../../policies/spec.js';
import { statusQuery, type PipelineStatus } from '../../workflows/messages.js';
import type { pipelineWorkflow, PipelineSummary } from '../../workflows/pipeline.js';
import type { FaultWorld } from './world.js';

/** Where a pipeline is, from its status query: a trigger and its stage, or what it does between triggers. */
export type Position = { triggerId: number; stage: string } | { other: string };

export function position(current: string): Position {
  const match = /^trigger (\d+): (\w+)$/.exec(current);
  return match ? { triggerId: Number(match[1]), stage: match[2]! } : { other: current };
}

/** How often a fault driver looks at the pipeline: often enough to catch a stage of a few hundred ms. */
const POLL_MS = 25;
/** A query no worker answers (the control worker is dead, the server restarting) gives up after this. */
const QUERY_DEADLINE_MS = 1_000;
const RUN_TIMEOUT_MS = 600_000;

/**
 * Runs pipeline `workflowId` with `spec` until it completes, calling `watch` with its status (undefined while
 * nobody answers its status query) every POLL_MS; `watch` injects faults. The pipeline's own failure is thrown.
 */
export async function runPipeline(
  world: FaultWorld,
  workflowId: string,
  spec: PipelineSpecInput,
  watch: (status: PipelineStatus | undefined) => Promise<void> = async () => {},
): Promise<PipelineSummary> {
  const { client, connection } = world.temporal;
  const taskQueue = spec.queues?.cpu ?? world.queues.cpu;
  const handle = await client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', { taskQueue, workflowId, args: [spec] });
  let summary: PipelineSummary | undefined;
  let failure: unknown;
  let watching = true;
  // result() long-polls the server, which a fault may take away for a while: asked again until the run ends.
  const finished = (async () => {
    while (watching) {
      try {
        return (summary = await handle.result());
      } catch (err) {
        if (err instanceof WorkflowFailedError) throw (failure = err);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  })();
  finished.catch(() => {});
  try {
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    while (!summary && !failure) {
      if (Date.now() > deadline) throw new Error(`${workflowId} did not finish within ${RUN_TIMEOUT_MS / 1000} s`);
      const status = await connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(statusQuery)).catch(() => undefined);
      await watch(status);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return (await finished)!;
  } finally {
    watching = false;
    // A run given up on is ended, so that its result() call ends too before the connection may be closed.
    if (!summary && !failure) await handle.terminate('the fault test gave up on it').catch(() => {});
    await finished.catch(() => {});
  }
}
