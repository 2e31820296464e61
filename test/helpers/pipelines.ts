import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import assert from 'node:assert/strict';
import { statusQuery, stopSignal } from '../../workflows/messages.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';

/** Polls `probe` every 200 ms until it returns a value. Generous by default: the test machine may be loaded. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 240_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until the pipeline has run `triggers` triggers and is idle, then stops it and returns its summary. */
export async function stopAfterTriggers(handle: WorkflowHandle<typeof pipelineWorkflow>, triggers: number) {
  await waitFor(`${triggers} triggers`, async () => {
    const s = await handle.query(statusQuery);
    return s.triggers === triggers && s.current === 'waiting for data' ? s : undefined;
  });
  await handle.signal(stopSignal);
  return handle.result();
}

/** The message of the failure that ended a workflow: an activity's, when an activity failed it. */
export function failureMessage(err: unknown): string {
  assert.ok(err instanceof WorkflowFailedError);
  return String((err.cause?.cause as Error | undefined)?.message ?? err.cause?.message);
}
