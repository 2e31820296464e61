import { WorkflowFailedError } from '@temporalio/client';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSpec, SpecError, type PipelineSpec } from '../../policies/spec.js';
import { loadConfig } from '../../lib/config.js';
import { ModelStore } from '../../lib/models/store.js';
import { isStoreReference, pinGraph } from '../../lib/models/user-graphs.js';
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
  spec = await pinUserGraphs(spec, dirname(file));
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

/**
 * A user model's graph files, given by path (relative to the spec file's folder, or absolute), copied into the
 * model store content-addressed: the spec then names them `store:graphs/<sha256>/<file>` with their hashes, so
 * every worker reads the same bytes whatever later happens to the user's files. A hash the spec already gives
 * must match the file. `store:` references are left as they are.
 */
async function pinUserGraphs(spec: PipelineSpec, specDir: string): Promise<PipelineSpec> {
  const model = spec.model;
  if (model.architecture !== 'onnx') return spec;
  const store = new ModelStore(loadConfig().storeDir);
  const pinned = { ...model };
  for (const field of ['trainStep', 'inference'] as const) {
    if (isStoreReference(model[field])) continue;
    const path = isAbsolute(model[field]) ? model[field] : resolve(specDir, model[field]);
    const { ref, sha256 } = await pinGraph(store, path).catch((err: Error) => {
      throw new Error(`model.${field}: ${err.message}`);
    });
    const given = model[`${field}Sha256`];
    if (given && given !== sha256) throw new Error(`model.${field}Sha256: ${given}, but ${path} has sha256 ${sha256}`);
    pinned[field] = ref;
    pinned[`${field}Sha256`] = sha256;
  }
  return { ...spec, model: pinned };
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
