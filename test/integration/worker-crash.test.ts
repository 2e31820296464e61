import { spawn, type ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { registerDataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { listModels } from '../../lib/pipelines/models.js';
import type { PipelineSpecInput } from '../../policies/spec.js';
import { statusQuery, stopSignal } from '../../workflows/messages.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';
import { runTestWorkers, startTestTemporal, type TestTemporal } from '../helpers/temporal.js';

const TIDE = fileURLToPath(new URL('../../cli/tide.ts', import.meta.url));

describe('a gpu worker killed mid-training', () => {
  let temporal: TestTemporal;
  let postgres: TestPostgres;
  let root: string;
  let stopWorkers: (() => Promise<void>) | undefined;
  const queues = { cpu: 'crash-cpu', gpu: 'crash-gpu' };
  const children: ChildProcess[] = [];

  /** A real `tide worker --role gpu` process, as a gpu host would run it. */
  function startGpuWorker(): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', TIDE, 'worker', '--role', 'gpu'], {
      env: {
        ...process.env, TEMPORAL_ADDRESS: temporal.server.address, DATABASE_URL: postgres.url,
        TIDELINE_STORE: join(root, '.store'), TIDELINE_HOME: join(root, '.home'), TIDELINE_GPU_QUEUE: queues.gpu,
      },
      stdio: 'ignore',
    });
    children.push(child);
    return child;
  }

  const spec: PipelineSpecInput = {
    dataset: { name: 'crash' },
    model: { architecture: 'mlp', hidden: [128, 128], numClasses: 4 },
    training: { epochs: 12, batchSize: 32, optimizer: { name: 'adam', lr: 0.001 }, seed: 11, checkpointEvery: 40 },
    trigger: { kind: 'dataAmount', every: 4000 },
    queues,
  };

  before(async () => {
    [temporal, postgres] = await Promise.all([startTestTemporal(), startTestPostgres()]);
    root = await mkdtemp(join(tmpdir(), 'tideline-crash-'));
    const dataset = await registerDataset(postgres.pool, { name: 'crash', root, format: syntheticFormat(32, 4) });
    await writeBlobFile(root, 'all.bin', { samples: 8000, features: 32, numClasses: 4, startTs: 0, spanS: 8000, seed: 5 });
    assert.equal((await ingestFile(postgres.pool, dataset, 'all.bin')).status, 'ingested');
    stopWorkers = await runTestWorkers(temporal, { pool: postgres.pool, storeDir: join(root, '.store'), queues, roles: ['control'] });
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await stopWorkers?.();
    await temporal?.stop();
    await postgres?.stop();
    await rm(root, { recursive: true, force: true });
  });

  async function runPipeline(workflowId: string, onTraining?: (runDir: string) => Promise<void>) {
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId, args: [spec],
    });
    let interrupted = !onTraining;
    const deadline = Date.now() + 150_000;
    for (;;) {
      assert.ok(Date.now() < deadline, `${workflowId} did not finish its triggers`);
      const status = await handle.query(statusQuery);
      if (!interrupted && status.current === 'trigger 0: training') {
        await onTraining!(join(root, '.store', 'runs', String(status.pipelineId), 'trigger-0'));
        interrupted = true;
      }
      if (status.triggers === 2 && status.current === 'waiting for data') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await handle.signal(stopSignal);
    return handle.result();
  }

  it('resumes from its last checkpoint on another worker: same triggers, bit-identical models', async () => {
    const first = startGpuWorker();
    const crashed = await runPipeline('crash-pipeline', async (runDir) => {
      const deadline = Date.now() + 60_000;
      while (!(existsSync(runDir) && readdirSync(runDir).some((f) => /^ckpt-\d+\.state$/.test(f)))) {
        assert.ok(Date.now() < deadline, 'no checkpoint was written');
        await new Promise((r) => setTimeout(r, 20));
      }
      first.kill('SIGKILL');
      startGpuWorker();
    });
    assert.equal(crashed.triggers, 2);
    assert.equal(crashed.models, 2);

    const clean = await runPipeline('clean-pipeline');
    assert.equal(clean.triggers, crashed.triggers);
    const [crashedModels, cleanModels] = await Promise.all([
      listModels(postgres.pool, crashed.pipelineId), listModels(postgres.pool, clean.pipelineId),
    ]);
    assert.deepEqual(crashedModels.map((m) => m.sha256), cleanModels.map((m) => m.sha256));
    assert.deepEqual(crashedModels.map((m) => m.numSamples), cleanModels.map((m) => m.numSamples));
  });
});
