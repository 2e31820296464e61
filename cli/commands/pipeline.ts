import { WorkflowFailedError } from '@temporalio/client';
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSpec, SpecError } from '../../policies/spec.js';
import { loadConfig } from '../../lib/config.js';
import { ModelStore } from '../../lib/models/store.js';
import { pinUserModel } from '../../lib/models/user-graphs.js';
import { getPipelineByName } from '../../lib/pipelines/registry.js';
import { statusQuery, stopSignal } from '../../workflows/messages.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';
import { openContext } from '../context.js';
import { pipelineReport } from '../report.js';
import { readSpecFile } from '../spec-file.js';

/**
 * `tide run <spec.yaml> [--id NAME] [--wait]`: validates the spec here, pins a user model's graph files into
 * the model store, then starts the pipeline workflow.
 */
export async function run(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, options: { id: { type: 'string' }, wait: { type: 'boolean', default: false } },
  });
  const [file] = positionals;
  if (!file) throw new Error('usage: tide run <spec.yaml> [--id NAME] [--wait]');
  const input = await readSpecFile(file);
  let spec;
  try {
    spec = parseSpec(input);
  } catch (err) {
    throw err instanceof SpecError ? new Error(`${file}: ${err.message}`) : err;
  }
  if (spec.model.architecture === 'onnx') {
    const model = await pinUserModel(new ModelStore(loadConfig().storeDir), spec.model, dirname(file)).catch((err: Error) => {
      throw new Error(`${file}: ${err.message}`);
    });
    spec = { ...spec, model };
  }
  const workflowId = values.id ?? basename(file).replace(/\.(ya?ml|json)$/, '');
  const ctx = await openContext();
  try {
    const handle = await ctx.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: spec.queues.cpu, workflowId, args: [spec],
    });
    console.log(`Started pipeline ${workflowId} (run ${handle.firstExecutionRunId}) on task queue ${spec.queues.cpu}`);
    if (values.wait) {
      const summary = await handle.result().catch((err) => {
        throw err instanceof WorkflowFailedError ? new Error(`pipeline ${workflowId} failed: ${err.cause?.message ?? err.message}`) : err;
      });
      console.log(JSON.stringify(summary, null, 2));
    }
  } finally {
    await ctx.close();
  }
}

/** `tide status <pipeline>`: the workflow's live status and, from the database, its results so far. */
export async function status(args: string[]): Promise<void> {
  const [name] = args;
  if (!name) throw new Error('usage: tide status <pipeline>');
  const ctx = await openContext();
  try {
    const handle = ctx.client.workflow.getHandle(name);
    const description = await handle.describe();
    console.log(`Pipeline ${name}: ${description.status.name}`);
    if (description.status.name === 'RUNNING') console.log(JSON.stringify(await handle.query(statusQuery), null, 2));
    const row = await getPipelineByName(ctx.pool, name);
    if (row) console.log(`\n${await pipelineReport(ctx.pool, row.pipelineId)}`);
  } finally {
    await ctx.close();
  }
}

/** `tide stop <pipeline>`: the pipeline finishes the trigger in progress, evaluates, and completes. */
export async function stop(args: string[]): Promise<void> {
  const [name] = args;
  if (!name) throw new Error('usage: tide stop <pipeline>');
  const ctx = await openContext();
  try {
    await ctx.client.workflow.getHandle(name).signal(stopSignal);
    console.log(`Asked pipeline ${name} to stop after its current trigger.`);
  } finally {
    await ctx.close();
  }
}
