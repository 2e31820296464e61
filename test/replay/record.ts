/**
 * Records workflow histories from real runs into test/replay/histories/, for the replay test.
 * Run after a deliberate change to workflow code (`npm run record-histories`) and commit the files:
 * the replay test then proves that later changes still replay what earlier code recorded.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerDataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import type { PipelineSpecInput } from '../../policies/spec.js';
import { createWorkers, runWorkers } from '../../workers/workers.js';
import { newDataSignal, statusQuery, stopSignal } from '../../workflows/messages.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';
import type { experimentWorkflow } from '../../workflows/experiment.js';
import type { ExperimentInput } from '../../policies/experiments/schema.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';
import { startTestTemporal } from '../helpers/temporal.js';

const OUT = fileURLToPath(new URL('./histories/', import.meta.url));
const DAY = 86_400;

const pipelines: Record<string, PipelineSpecInput> = {
  'data-amount': {
    dataset: { name: 'replay' },
    model: { architecture: 'mlp', hidden: [8], numClasses: 3 },
    training: { epochs: 1, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, seed: 1, checkpointEvery: 2 },
    trigger: { kind: 'dataAmount', every: 250 },
    queues: { cpu: 'replay-cpu', gpu: 'replay-gpu' },
  },
  'time-all-data': {
    dataset: { name: 'replay' },
    model: { architecture: 'mlp', hidden: [8], numClasses: 3 },
    training: { epochs: 1, batchSize: 32, optimizer: { name: 'adam', lr: 0.01 }, seed: 2, initialization: 'scratch' },
    trigger: { kind: 'time', every: '12h' },
    selection: { window: { kind: 'allData' } },
    queues: { cpu: 'replay-cpu', gpu: 'replay-gpu' },
  },
  drift: {
    dataset: { name: 'replay' },
    model: { architecture: 'mlp', hidden: [8], numClasses: 3 },
    training: { epochs: 1, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, seed: 3 },
    trigger: {
      kind: 'dataDrift', every: 100, window: { samples: 100 },
      metrics: [{ kind: 'mmd', criterion: { kind: 'quantile', window: 3, quantile: 0.2 } }, { kind: 'ks' }, { kind: 'meanDistance', criterion: { kind: 'threshold', value: 0.5 } }],
      aggregation: { kind: 'atLeast', n: 1 },
      warmup: { evaluations: 2, policy: { kind: 'time', every: '12h' } },
    },
    queues: { cpu: 'replay-cpu', gpu: 'replay-gpu' },
  },
  // Presampling in SQL, then a downsampling schedule: batch-then-sample loss, then sample-then-batch RS2.
  selection: {
    dataset: { name: 'replay' },
    model: { architecture: 'mlp', hidden: [8], numClasses: 3 },
    training: { epochs: 2, batchSize: 16, optimizer: { name: 'sgd', lr: 0.05 }, seed: 6, checkpointEvery: 4 },
    trigger: { kind: 'dataAmount', every: 150 },
    selection: {
      window: { kind: 'lastTriggers', triggers: 1 },
      presampling: { strategy: 'labelBalanced', ratio: 0.8 },
      downsampling: [{ fromTrigger: 1, strategy: 'loss', ratio: 0.5 }, { fromTrigger: 2, strategy: 'rs2', ratio: 0.5 }],
      warmupTriggers: 1,
    },
    queues: { cpu: 'replay-cpu', gpu: 'replay-gpu' },
  },
  // Evaluations in sample time when it ends: child workflows of their own.
  'sample-time': {
    dataset: { name: 'replay' },
    model: { architecture: 'mlp', hidden: [8], numClasses: 3 },
    training: { epochs: 1, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, seed: 7 },
    trigger: { kind: 'time', every: '1d' },
    evaluation: {
      models: 'active',
      afterPipeline: [{ strategy: { kind: 'slicing', every: '12h' }, models: 'active' }, { strategy: { kind: 'offset', offsets: ['-1d', '0', '+1d'] } }],
    },
    queues: { cpu: 'replay-cpu', gpu: 'replay-gpu' },
  },
  // On a dataset of its own, fed by signals, some of them malformed or forged.
  signals: {
    dataset: { name: 'replay-signals' },
    model: { architecture: 'logisticRegression', numClasses: 3 },
    training: { epochs: 1, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, seed: 5 },
    trigger: { kind: 'dataAmount', every: 150 },
    queues: { cpu: 'replay-cpu', gpu: 'replay-gpu' },
  },
  ensemble: {
    dataset: { name: 'replay' },
    model: { architecture: 'mlp', hidden: [8], numClasses: 3 },
    training: { epochs: 1, batchSize: 32, optimizer: { name: 'adam', lr: 0.01 }, seed: 4 },
    trigger: {
      kind: 'ensemble', vote: { kind: 'any' },
      members: {
        drift: { kind: 'dataDrift', every: 150, window: { samples: 150 }, metrics: [{ kind: 'mmd', criterion: { kind: 'threshold', value: 0.05 } }] },
        performance: { kind: 'performance', every: 200, criteria: [{ kind: 'threshold', value: 0.9 }, { kind: 'misclassifications', threshold: 30 }] },
        cost: { kind: 'cost', every: 100, regret: { kind: 'latency', perTrainingSecond: 5_000_000 } },
      },
    },
    queues: { cpu: 'replay-cpu', gpu: 'replay-gpu' },
  },
};

/** Experiments, recorded after the pipelines: the experiment workflow's own history (its pipelines are like those above). */
const experiments: Record<string, ExperimentInput> = {
  experiment: {
    name: 'experiment',
    base: pipelines['data-amount']!,
    variants: { every250: { seeds: [1, 2] }, every300: { overrides: { trigger: { every: 300 } } } },
    until: { samples: 500 },
    concurrency: 2,
  },
  // A variant on the live path: the files replayed into a dataset of its own, a day of sample time per second.
  'experiment-replay': {
    name: 'experiment-replay',
    base: pipelines['data-amount']!,
    variants: { live: { replay: { speed: DAY } } },
    until: { samples: 500 },
    evaluation: { strategy: { kind: 'slicing', every: '1d' }, models: 'active' },
  },
};

/** `npm run record-histories -- drift ensemble` records only those; no names records them all. */
const chosen = process.argv.slice(2);
const names = [...Object.keys(pipelines), ...Object.keys(experiments)];
for (const name of chosen) if (!names.includes(name)) throw new Error(`no pipeline or experiment "${name}" to record (have ${names.join(', ')})`);

const [temporal, postgres] = await Promise.all([
  startTestTemporal({ 'limit.historyCount.suggestContinueAsNew': 40 }),
  startTestPostgres(),
]);
const root = await mkdtemp(join(tmpdir(), 'tideline-record-'));
const abort = new AbortController();
try {
  const dataset = await registerDataset(postgres.pool, { name: 'replay', root, format: syntheticFormat(6, 3) });
  const workers = await createWorkers({
    connection: temporal.nativeConnection, namespace: 'default', roles: ['control', 'gpu'],
    deps: { pool: postgres.pool, storeDir: join(root, '.store'), executionProvider: 'cpu' }, cpuQueue: 'replay-cpu', gpuQueue: 'replay-gpu',
    workflowBundle: temporal.bundle,
  });
  const running = runWorkers(workers, abort.signal);
  const files = [];
  for (let day = 0; day < 3; day++) {
    files.push(await writeBlobFile(root, `day-${day}.bin`, { samples: 200, features: 6, numClasses: 3, startTs: day * DAY, spanS: DAY, seed: day + 1 }));
  }
  await ingestFile(postgres.pool, dataset, files[0]);
  const signalled = await registerDataset(postgres.pool, { name: 'replay-signals', root, format: syntheticFormat(6, 3) });
  await ingestFile(postgres.pool, signalled, files[0]);

  for (const [name, spec] of Object.entries(pipelines).filter(([n]) => chosen.length === 0 || chosen.includes(n))) {
    // Pipelines other than those fed by signals catch up on all three files from the database.
    if (name !== 'data-amount' && name !== 'signals') for (const file of files.slice(1)) await ingestFile(postgres.pool, dataset, file);
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: 'replay-cpu', workflowId: name, args: [spec],
    });
    if (name === 'data-amount') {
      for (const file of files.slice(1)) {
        const outcome = await ingestFile(postgres.pool, dataset, file);
        if (outcome.status === 'ingested') await handle.signal(newDataSignal, { datasetId: dataset.id });
      }
    }
    if (name === 'signals') {
      await waitUntilIdle(handle, 200);
      // Malformed payloads, another dataset's, and forged batches that do not exist: none may wedge or mislead it.
      for (const payload of [{}, { datasetId: 'one' }, { datasetId: dataset.id }, { datasetId: signalled.id, batches: [{ firstKey: 201, lastKey: 90_000, count: 89_800 }] }]) {
        await handle.signal(newDataSignal, payload as never);
      }
      await waitUntilIdle(handle, 200);
      for (const file of files.slice(1)) {
        const outcome = await ingestFile(postgres.pool, signalled, file);
        if (outcome.status === 'ingested') await handle.signal(newDataSignal, { datasetId: signalled.id });
      }
    }
    await waitUntilIdle(handle, 600);
    await handle.signal(stopSignal);
    await handle.result();

    // Every run of the pipeline (it continues as new), its first trigger's child workflow and its first evaluation after it.
    let run = 0;
    const children = [`${name}/trigger-0`, `${name}/after-pipeline-0`];
    for await (const execution of temporal.client.workflow.list({ query: [name, ...children].map((id) => `WorkflowId = "${id}"`).join(' OR ') })) {
      const history = await temporal.client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      const file = children.includes(execution.workflowId) ? `${execution.workflowId.replace('/', '.')}.json` : `${name}.run-${run++}.json`;
      await writeFile(join(OUT, file), historyToJSON(history));
      console.log(`recorded ${file} (${history.events?.length} events)`);
    }
  }
  for (const [name, experiment] of Object.entries(experiments).filter(([n]) => chosen.length === 0 || chosen.includes(n))) {
    for (const file of files.slice(1)) await ingestFile(postgres.pool, dataset, file);
    const handle = await temporal.client.workflow.start<typeof experimentWorkflow>('experimentWorkflow', {
      taskQueue: 'replay-cpu', workflowId: name, args: [experiment],
    });
    await handle.result();
    await writeFile(join(OUT, `${name}.run-0.json`), historyToJSON(await handle.fetchHistory()));
    console.log(`recorded ${name}.run-0.json`);
  }
  abort.abort();
  await running;
} finally {
  abort.abort();
  await temporal.stop();
  await postgres.stop();
  await rm(root, { recursive: true, force: true });
}

/** Waits until the pipeline has seen `samples` samples and waits for more. */
async function waitUntilIdle(handle: WorkflowHandle<typeof pipelineWorkflow>, samples: number): Promise<void> {
  for (;;) {
    const status = await handle.query(statusQuery);
    if (status.samplesSeen === samples && status.pendingTriggers === 0 && status.current === 'waiting for data') return;
    await new Promise((r) => setTimeout(r, 200));
  }
}
