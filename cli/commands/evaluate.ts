import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { planRequestSchema, type PlanRequest } from '../../policies/evaluation/plan-request.js';
import { parseSpec } from '../../policies/spec.js';
import { getDataset, getDatasetById } from '../../lib/data/datasets.js';
import { sampleShapeMismatch } from '../../lib/data/sample-shape.js';
import { getPlan, listPlans } from '../../lib/pipelines/evaluation-plans.js';
import { listModels } from '../../lib/pipelines/models.js';
import { getPipelineByName, storedSpec } from '../../lib/pipelines/registry.js';
import { listTriggers } from '../../lib/pipelines/triggers.js';
import { describeStrategy } from '../../lib/report/plan-charts.js';
import { loadPlanReport, type PlanReport } from '../../lib/report/plan-data.js';
import type { evaluationWorkflow } from '../../workflows/evaluation.js';
import { openContext } from '../context.js';
import { describeFailure, pipelineFailure } from '../failure.js';
import { step } from '../progress.js';

const USAGE = 'usage: tide evaluate <pipeline> [--strategy S] [--models matrix|active|trained] [--dataset NAME] [--json]';

/** The request from the flags: `--strategy` is YAML, a kind alone (`betweenTriggers`) or an object (`{kind: slicing, every: 1d}`). */
function planRequest(values: { strategy?: string; models?: string; dataset?: string }): PlanRequest {
  const input = {
    strategy: values.strategy === undefined ? 'betweenTriggers' : parseYaml(values.strategy),
    ...(values.models === undefined ? {} : { models: values.models }),
    ...(values.dataset === undefined ? {} : { dataset: values.dataset }),
  };
  const parsed = planRequestSchema.safeParse(input);
  if (!parsed.success) {
    const flag = (path: PropertyKey[]) => `--${String(path[0])}${path.length > 1 ? ` (${path.slice(1).join('.')})` : ''}`;
    throw new Error(parsed.error.issues.map((i) => `${flag(i.path)}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

/**
 * `tide evaluate <pipeline>`: evaluates a finished or running pipeline's models in sample time, as the spec's
 * `evaluation.afterPipeline` does when it ends, and prints the composite model per interval. The evaluation is a
 * workflow on the pipeline's queues (run `tide up` or workers); each call is stored as its own plan.
 */
export async function evaluate(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { strategy: { type: 'string' }, models: { type: 'string' }, dataset: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const [name] = positionals;
  if (!name || positionals.length > 1) throw new Error(USAGE);
  const request = planRequest(values);
  const ctx = await openContext();
  try {
    const { pool, client } = ctx;
    const pipeline = await getPipelineByName(pool, name);
    if (!pipeline) throw new Error(`no pipeline named "${name}" in the database`);
    if (request.dataset !== undefined) {
      const evaluated = await getDataset(pool, request.dataset);
      if (!evaluated) throw new Error(`--dataset: no dataset named "${request.dataset}" is registered (register it with \`tide dataset add\`)`);
      const mismatch = sampleShapeMismatch((await getDatasetById(pool, pipeline.datasetId))!.format, evaluated.format);
      if (mismatch) throw new Error(`--dataset: "${request.dataset}" cannot be scored by ${name}'s models: ${mismatch}`);
    }
    const spec = parseSpec(await storedSpec(pool, pipeline.pipelineId));
    const input = { pipelineId: pipeline.pipelineId, request, metrics: spec.evaluation.metrics, batchSize: spec.evaluation.batchSize, queues: spec.queues };
    let number = (await listPlans(pool, pipeline.pipelineId)).length + 1;
    let handle;
    for (;;) {
      try {
        handle = await client.workflow.start<typeof evaluationWorkflow>('evaluationWorkflow', {
          taskQueue: spec.queues.cpu, workflowId: `${name}/evaluation-${number}`, args: [input],
        });
        break;
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        number++;
      }
    }
    const workflowId = handle.workflowId;
    const run = handle.result().catch((err: unknown) => {
      const failure = pipelineFailure(err);
      throw failure ? new Error(`evaluation ${workflowId} failed\n${describeFailure(failure)}`) : err;
    });
    const planned = values.json ? await run : await step(`Evaluating ${name} (workflow ${workflowId}, queue ${spec.queues.cpu})`, () => run);
    const plan = (await getPlan(pool, planned.planId))!;
    const report = await loadPlanReport(pool, plan, await listTriggers(pool, pipeline.pipelineId), await listModels(pool, pipeline.pipelineId));
    console.log(values.json ? JSON.stringify(report, null, 2) : formatPlan(report));
  } finally {
    await ctx.close();
  }
}

const pct = (v: number | null) => (v === null ? '–' : `${(100 * v).toFixed(1)}%`);
const utc = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ');

/** Per interval: its span, samples, and the composite models with their accuracies; offsets: each model's cells. */
export function formatPlan(plan: PlanReport): string {
  const lines = [`${plan.name}: ${describeStrategy(plan)}`, `${plan.intervals.length} intervals, ${plan.cells.length} cells`];
  const span = (id: number) => {
    const i = plan.intervals[id]!;
    return `${utc(i.startTs)} – ${utc(i.endTs)}`;
  };
  if (plan.strategy.kind === 'offset') {
    lines.push('', 'model  interval (UTC)                        samples  accuracy');
    for (const c of plan.cells) lines.push(`${String(c.modelTrigger).padStart(5)}  ${span(c.intervalId).padEnd(36)}  ${String(c.numSamples).padStart(7)}  ${pct(c.accuracy).padStart(8)}`);
    return lines.join('\n');
  }
  lines.push('', 'interval  span (UTC)                             samples  serving model  accuracy  trained model  accuracy');
  for (const p of plan.composite) {
    const model = (m: number | null) => (m === null ? '–' : String(m));
    lines.push(`${String(p.intervalId).padStart(8)}  ${span(p.intervalId).padEnd(36)}  ${String(p.numSamples).padStart(7)}  ${model(p.activeModel).padStart(13)}  ${pct(p.activeAccuracy).padStart(8)}  ${model(p.trainedModel).padStart(13)}  ${pct(p.trainedAccuracy).padStart(8)}`);
  }
  lines.push('', `mean composite accuracy: ${pct(plan.meanCompositeAccuracy)}`);
  return lines.join('\n');
}
