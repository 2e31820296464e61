import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSpec, SpecError } from '../../policies/spec.js';
import { loadConfig } from '../../lib/config.js';
import { ModelStore } from '../../lib/models/store.js';
import { pinUserModel } from '../../lib/models/user-graphs.js';
import { listEvaluations } from '../../lib/pipelines/evaluations.js';
import { listModels } from '../../lib/pipelines/models.js';
import { latestPolicyEvaluations } from '../../lib/pipelines/policy-evaluations.js';
import { getPipelineByName } from '../../lib/pipelines/registry.js';
import { listTriggers } from '../../lib/pipelines/triggers.js';
import { loadPlanReports } from '../../lib/report/plan-data.js';
import { checkPipelineSpec } from '../../activities/pipeline-checks.js';
import { statusQuery, stopSignal } from '../../workflows/messages.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';
import { openContext, type Context } from '../context.js';
import { describeFailure, pipelineFailure, type PipelineFailure } from '../failure.js';
import { pipelineReport } from '../report.js';
import { readSpecFile } from '../spec-file.js';
import { formatTrainingProgress, readTrainingProgress } from '../training-progress.js';
import { printWhileWaiting } from '../print-while-waiting.js';
import { withStackQueues } from '../spec-queues.js';

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
  const config = loadConfig();
  const input = withStackQueues(await readSpecFile(file), config);
  let spec;
  try {
    spec = parseSpec(input);
  } catch (err) {
    throw err instanceof SpecError ? new Error(`${file}: ${err.message}`) : err;
  }
  if (spec.model.architecture === 'onnx') {
    const model = await pinUserModel(new ModelStore(config.storeDir), spec.model, dirname(file)).catch((err: Error) => {
      throw new Error(`${file}: ${err.message}`);
    });
    spec = { ...spec, model };
  }
  const workflowId = values.id ?? basename(file).replace(/\.(ya?ml|json)$/, '');
  const ctx = await openContext();
  try {
    // What can be checked before anything starts: the name is free, the dataset exists, the model fits.
    if (await getPipelineByName(ctx.pool, workflowId)) {
      throw new Error(`a pipeline named "${workflowId}" already exists (see \`tide status ${workflowId}\`): choose another name with --id`);
    }
    await checkPipelineSpec(ctx.pool, new ModelStore(config.storeDir), spec).catch((err: Error) => {
      throw new Error(`${file}: ${err.message}`);
    });
    const handle = await ctx.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: spec.queues.cpu, workflowId, args: [spec],
    }).catch((err: unknown) => {
      throw err instanceof WorkflowExecutionAlreadyStartedError ? new Error(`pipeline ${workflowId} is already running: choose another name with --id`) : err;
    });
    console.log(`Started pipeline ${workflowId} (run ${handle.firstExecutionRunId}) on task queue ${spec.queues.cpu}`);
    if (values.wait) {
      const result = handle.result().then(() => undefined, (err: unknown) => {
        const described = pipelineFailure(err);
        if (!described) throw err;
        return described;
      });
      const failure = await withProgress(ctx, workflowId, result);
      console.log(`\n${await statusReport(ctx, workflowId, failure)}`);
      if (failure) process.exitCode = 1;
    }
  } finally {
    await ctx.close();
  }
}

/** How often `tide run --wait` looks at the pipeline while it waits. */
const PROGRESS_EVERY_MS = 5000;

/** Prints what the pipeline is doing, when it changes, until `done` settles; returns what `done` gives. */
async function withProgress<T>(ctx: Context, name: string, done: Promise<T>): Promise<T> {
  await printWhileWaiting(done, PROGRESS_EVERY_MS, async () => {
    const live = await ctx.client.workflow.getHandle(name).query(statusQuery);
    const training = await readTrainingProgress(ctx.client, name, live.current).catch(() => undefined);
    return training ? formatTrainingProgress(training) : `${live.current}; ${live.triggers} triggers, ${live.samplesSeen} samples seen`;
  });
  return done;
}

/** The pipeline's state in words: what it is doing or why it failed, then its results from the database. */
async function statusReport(ctx: Context, name: string, failure?: PipelineFailure): Promise<string> {
  const handle = ctx.client.workflow.getHandle(name);
  const description = await handle.describe();
  const lines = [`Pipeline ${name}: ${description.status.name}`];
  if (description.status.name === 'RUNNING') {
    const live = await handle.query(statusQuery);
    lines.push(`  ${live.current}; ${live.triggers} triggers, ${live.models} models, ${live.samplesSeen} samples seen${live.stopRequested ? '; stopping' : ''}`);
    const training = await readTrainingProgress(ctx.client, name, live.current);
    if (training) lines.push(`  ${formatTrainingProgress(training)}`);
  }
  const failed = failure ?? (description.status.name === 'FAILED' ? pipelineFailure(await handle.result().catch((e: unknown) => e)) : undefined);
  if (failed) lines.push(describeFailure(failed).replace(/^/gm, '  '));
  const row = await getPipelineByName(ctx.pool, name);
  if (row) lines.push('', await pipelineReport(ctx.pool, row.pipelineId, new ModelStore(ctx.config.storeDir)));
  return lines.join('\n');
}

/** `tide status <pipeline> [--json]`: the workflow's live status or failure and, from the database, its results so far. */
export async function status(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  const [name] = positionals;
  if (!name || positionals.length > 1) throw new Error('usage: tide status <pipeline> [--json]');
  const ctx = await openContext();
  try {
    if (!values.json) {
      console.log(await statusReport(ctx, name));
      return;
    }
    const handle = ctx.client.workflow.getHandle(name);
    const description = await handle.describe();
    const running = description.status.name === 'RUNNING';
    const row = await getPipelineByName(ctx.pool, name);
    const live = running ? await handle.query(statusQuery) : undefined;
    console.log(JSON.stringify({
      pipeline: name,
      status: description.status.name,
      live,
      training: live && await readTrainingProgress(ctx.client, name, live.current),
      failure: description.status.name === 'FAILED' ? pipelineFailure(await handle.result().catch((e: unknown) => e)) : undefined,
      ...(row && await storedResults(ctx, row.pipelineId)),
    }, null, 2));
  } finally {
    await ctx.close();
  }
}

/** What `tide status --json` reads from the database: triggers, models, evaluations (the matrix and the plans in sample time). */
async function storedResults(ctx: Context, pipelineId: number) {
  const [triggers, models] = await Promise.all([listTriggers(ctx.pool, pipelineId), listModels(ctx.pool, pipelineId)]);
  return {
    triggers, models,
    evaluations: await listEvaluations(ctx.pool, pipelineId),
    evaluationsInSampleTime: await loadPlanReports(ctx.pool, pipelineId, triggers, models),
    policyEvaluations: await latestPolicyEvaluations(ctx.pool, pipelineId, 20),
  };
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
