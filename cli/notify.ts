import type { Client } from '@temporalio/client';
import type { BatchDescriptor } from '../policies/batches.js';
import { newDataSignal } from '../workflows/messages.js';

/**
 * Wakes every running pipeline on a dataset when batches were committed; each reads them from the database.
 * A pipeline that this misses (started a moment ago, not yet visible) catches up from the database on its own.
 */
export async function notifyPipelines(client: Client, dataset: { id: number; name: string }, batches: BatchDescriptor[]): Promise<number> {
  if (batches.length === 0) return 0;
  let notified = 0;
  const query = `TidelineDataset = "${dataset.name.replaceAll('"', '\\"')}" AND ExecutionStatus = "Running"`;
  for await (const execution of client.workflow.list({ query })) {
    if (execution.type !== 'pipelineWorkflow') continue;
    await client.workflow.getHandle(execution.workflowId).signal(newDataSignal, { datasetId: dataset.id });
    notified++;
  }
  return notified;
}
