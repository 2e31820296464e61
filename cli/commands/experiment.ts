import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { parseArgs } from 'node:util';
import { ExperimentError, parseExperiment, type Experiment } from '../../policies/experiments/schema.js';
import { experimentRuns } from '../../policies/experiments/runs.js';
import type { Stat, VariantRow } from '../../policies/experiments/table.js';
import { checkPipelineSpec } from '../../activities/pipeline-checks.js';
import { ModelStore } from '../../lib/models/store.js';
import { loadConfig } from '../../lib/config.js';
import { experimentStatusQuery } from '../../workflows/experiment-status.js';
import type { experimentWorkflow, ExperimentSummary } from '../../workflows/experiment.js';
import { openContext, type Context } from '../context.js';
import { describeFailure, pipelineFailure } from '../failure.js';
import { readSpecFile } from '../spec-file.js';
import { printWhileWaiting } from '../print-while-waiting.js';
import { withStackQueues } from '../spec-queues.js';

const USAGE = 'usage: tide experiment <experiment.yaml> [--resume] [--json]';

/**
 * `tide experiment <file> [--resume] [--json]`: validates the file and every variant's spec here, starts the
 * experiment workflow (id = the experiment's name), follows it, and prints its table and report. A running
 * experiment is attached to with --resume; a finished one runs again and redoes none of its finished pipelines.
 */
export async function experiment(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, options: { resume: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
  });
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new Error(USAGE);
  const config = loadConfig();
  const raw = await readSpecFile(file);
  // The base takes the stack's queues, as `tide run` gives a spec's.
  const input = typeof raw === 'object' && raw !== null && 'base' in raw ? { ...raw, base: withStackQueues(raw.base, config) } : raw;
  let parsed: Experiment;
  try {
    parsed = parseExperiment(input);
  } catch (err) {
    throw err instanceof ExperimentError ? new Error(`${file}: ${err.message}`) : err;
  }
  const ctx = await openContext();
  try {
    // What can be checked before anything starts: the dataset exists, every variant's model fits it.
    const store = new ModelStore(config.storeDir);
    for (const run of experimentRuns(parsed, 1)) {
      await checkPipelineSpec(ctx.pool, store, run.spec).catch((err: Error) => {
        throw new Error(`${file}: variants.${run.variant}: ${err.message}`);
      });
    }
    const handle = await ctx.client.workflow.start<typeof experimentWorkflow>('experimentWorkflow', {
      taskQueue: experimentRuns(parsed, 1)[0]!.spec.queues.cpu, workflowId: parsed.name, args: [input as never],
      workflowIdConflictPolicy: values.resume ? 'USE_EXISTING' : 'FAIL',
    }).catch((err: unknown) => {
      throw err instanceof WorkflowExecutionAlreadyStartedError ? new Error(`experiment ${parsed.name} is running: follow it with --resume`) : err;
    });
    if (!values.json) console.log(`Experiment ${parsed.name} (run ${handle.firstExecutionRunId}) on task queue ${experimentRuns(parsed, 1)[0]!.spec.queues.cpu}`);
    const done = handle.result();
    if (!values.json) await followProgress(ctx, parsed.name, done);
    const summary = await done.catch((err: unknown) => {
      const failure = pipelineFailure(err);
      if (!failure) throw err;
      throw new Error(`experiment ${parsed.name} failed\n${describeFailure(failure)}`);
    });
    if (values.json) console.log(JSON.stringify(summary, null, 2));
    else console.log(`\n${formatSummary(summary)}`);
    if (summary.runs.some((r) => r.outcome === 'failed')) process.exitCode = 1;
  } finally {
    await ctx.close();
  }
}

/** How often the command looks at the experiment while it waits. */
const PROGRESS_EVERY_MS = 5000;

/** Prints the pipelines done and running, when that changes, until `done` settles. */
function followProgress(ctx: Context, name: string, done: Promise<unknown>): Promise<void> {
  return printWhileWaiting(done, PROGRESS_EVERY_MS, async () => {
    const s = await ctx.client.workflow.getHandle(name).query(experimentStatusQuery);
    return `${s.completed + s.failed}/${s.runs} pipelines done${s.failed ? ` (${s.failed} failed)` : ''}; ${
      s.running.length ? `running ${s.running.join(', ')}` : s.current}`;
  });
}

/** A mean over seeds; a whole number (one seed's count) without decimals. */
const fixed = (digits: number) => (s: Stat | null) => (s ? (Number.isInteger(s.mean) ? String(s.mean) : s.mean.toFixed(digits)) : '—');
const COLUMNS: [string, (row: VariantRow) => string][] = [
  ['variant', (r) => r.variant],
  ['seeds', (r) => `${r.completed}/${r.seeds.length}`],
  ['mean composite accuracy', (r) => {
    const a = r.meanCompositeAccuracy;
    return a ? `${a.mean.toFixed(4)}${r.completed > 1 ? ` ± ${a.std.toFixed(4)}` : ''}` : '—';
  }],
  ['triggers', (r) => fixed(1)(r.triggers)],
  ['samples trained', (r) => fixed(0)(r.samplesTrained)],
  ['samples processed', (r) => fixed(0)(r.samplesProcessed)],
  ['training s', (r) => fixed(1)(r.trainingSeconds)],
  ['total s', (r) => fixed(1)(r.totalSeconds)],
];

/**
 * The table (accuracy mean ± std over seeds, costs as means over seeds), failed pipelines, and the report's path;
 * `only` keeps the columns of those titles, in that order.
 */
export function formatSummary(summary: ExperimentSummary, only?: string[]): string {
  const columns = only ? only.map((title) => COLUMNS.find(([t]) => t === title)!) : COLUMNS;
  const cells = [columns.map(([title]) => title), ...summary.table.map((row) => columns.map(([, cell]) => cell(row)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  const lines = [
    `Experiment ${summary.experiment}: every variant up to key ${summary.endKey}; accuracy is mean ± std over seeds, costs are means over seeds`,
    ...cells.map((line) => line.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()),
  ];
  for (const row of summary.table) {
    for (const f of row.failed) lines.push(`Failed: ${row.variant} seed ${f.seed} (left out of the table): ${f.message}`);
  }
  lines.push(summary.report ? `Comparison: ${summary.report}` : 'No pipeline completed: no comparison report');
  return lines.join('\n');
}
