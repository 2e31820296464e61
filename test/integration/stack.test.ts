import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, makeTelemetryFilterString, NativeConnection, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { withStackQueues } from '../../cli/spec-queues.js';
import { loadConfig, type TidelineConfig } from '../../lib/config.js';
import { registerDataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { migrate } from '../../lib/db/migrate.js';
import { createPool } from '../../lib/db/pool.js';
import { isListening, splitAddress } from '../../lib/ports.js';
import { alive, readStackFile, stackFilePath } from '../../lib/stack/stack-file.js';
import { startStack, type Stack } from '../../lib/stack/stack.js';
import { parseSpec } from '../../policies/spec.js';
import { WORKFLOWS_PATH } from '../../workers/plugin.js';
import { createWorkers, runWorkers } from '../../workers/workers.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';
import { stopAfterTriggers } from '../helpers/pipelines.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';

const FEATURES = 8;
const CLASSES = 3;

/** The environment of a `tide` command that sets only its state folder. */
function configFor(home: string): TidelineConfig {
  return loadConfig({ TIDELINE_HOME: home });
}

/** The ports a stack's dev server, Web UI and PostgreSQL listen on. */
function portsOf(stack: Stack): number[] {
  return [splitAddress(stack.temporalAddress).port, Number(new URL(stack.uiUrl!).port), Number(new URL(stack.databaseUrl).port)];
}

/** Ingests one file of 150 samples and runs a one-trigger pipeline on the stack, with workers on the config's queues. */
async function runPipeline(config: TidelineConfig, stack: Stack, bundle: WorkflowBundleWithSourceMap) {
  const pool = createPool(stack.databaseUrl);
  const native = await NativeConnection.connect({ address: stack.temporalAddress });
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  try {
    await migrate(pool);
    const root = join(config.home, 'data');
    await writeBlobFile(root, 'day-0.bin', { samples: 150, features: FEATURES, numClasses: CLASSES, startTs: 0, spanS: 86_400, seed: 1 });
    const dataset = await registerDataset(pool, { name: 'blobs', root, format: syntheticFormat(FEATURES, CLASSES) });
    assert.equal((await ingestFile(pool, dataset, 'day-0.bin')).status, 'ingested');
    const workers = await createWorkers({
      connection: native, namespace: config.namespace, roles: ['control', 'gpu'],
      deps: { pool, storeDir: config.storeDir, executionProvider: 'cpu' }, cpuQueue: config.cpuQueue, gpuQueue: config.gpuQueue,
      workflowBundle: bundle,
    });
    running = runWorkers(workers, abort.signal);
    // As `tide run` does: the spec leaves the queues out, the stack's are filled in.
    const spec = parseSpec(withStackQueues({
      dataset: { name: 'blobs' },
      model: { architecture: 'mlp', hidden: [8], numClasses: CLASSES },
      training: { epochs: 1, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, seed: 1 },
      trigger: { kind: 'dataAmount', every: 150 },
    }, config));
    assert.deepEqual(spec.queues, { cpu: config.cpuQueue, gpu: config.gpuQueue });
    const handle = await new Client({ connection, namespace: config.namespace }).workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: spec.queues.cpu, workflowId: 'blobs-pipeline', args: [spec],
    });
    // A pipeline that fails shows its failure here rather than as a timeout.
    return await Promise.race([stopAfterTriggers(handle, 1), handle.result()]);
  } finally {
    abort.abort();
    await running;
    await native.close();
    await connection.close();
    await pool.end();
  }
}

describe('the stack of a state folder', () => {
  let parent: string;
  let bundle: WorkflowBundleWithSourceMap;
  const stacks: Stack[] = [];

  before(async () => {
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} } },
    });
    // mkdtemp makes a mode-700 folder: as root, the postgres user cannot enter it.
    parent = await mkdtemp(join(tmpdir(), 'tideline-stacks-'));
    bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') });
  });

  after(async () => {
    for (const stack of stacks) await stack.stop();
    // As root, PostgreSQL's data was placed outside the mode-700 folder, linked from <home>/postgres.
    for (const name of ['a', 'b']) {
      const dataDir = join(parent, name, '.tideline', 'postgres');
      await rm(await realpath(dataDir).catch(() => dataDir), { recursive: true, force: true });
    }
    await rm(parent, { recursive: true, force: true });
  });

  it('two state folders run side by side: own dev servers on free ports, own queues, a pipeline on each', async () => {
    assert.equal((await stat(parent)).mode & 0o777, 0o700);
    const configs = ['a', 'b'].map((name) => configFor(join(parent, name, '.tideline')));
    for (const config of configs) stacks.push(await startStack(config));
    const [a, b] = stacks as [Stack, Stack];

    assert.notEqual(a.temporalAddress, b.temporalAddress);
    assert.notEqual(a.databaseUrl, b.databaseUrl);
    assert.notEqual(configs[0]!.cpuQueue, configs[1]!.cpuQueue);
    assert.notEqual(configs[0]!.gpuQueue, configs[1]!.gpuQueue);
    for (const [i, config] of configs.entries()) {
      assert.match(config.cpuQueue, /^tideline-cpu-[0-9a-f]{6}$/);
      assert.equal(config.gpuQueue, config.cpuQueue.replace('cpu', 'gpu'));
      const stack = stacks[i]!;
      assert.ok(stack.summary.includes(`Temporal: started a dev server for ${config.home} on ${stack.temporalAddress} (Web UI ${stack.uiUrl})`), stack.summary.join('\n'));
      assert.equal(readStackFile(config.home)?.temporalAddress, stack.temporalAddress);
    }

    const summaries = await Promise.all(configs.map((config, i) => runPipeline(config, stacks[i]!, bundle)));
    for (const summary of summaries) assert.deepEqual([summary.triggers, summary.models, summary.samplesSeen], [1, 1, 150]);
  });

  it("another start from the same folder attaches to the owner's services and leaves them running when it stops", async () => {
    const config = configFor(join(parent, 'a', '.tideline'));
    const owner = stacks[0];
    assert.ok(owner, "the folder's owner started in the test before");
    const attached = await startStack(config);
    try {
      assert.equal(attached.temporalAddress, owner.temporalAddress);
      assert.equal(attached.databaseUrl, owner.databaseUrl);
      assert.deepEqual(attached.summary, [
        `PostgreSQL: attached to ${owner.databaseUrl.replace(/\/\/[^@]*@/, '//…@')}; tide process ${process.pid} runs it for ${config.home}`,
        `Temporal: attached to ${owner.temporalAddress}; tide process ${process.pid} runs it for ${config.home}`,
      ]);
    } finally {
      await attached.stop();
    }
    for (const port of portsOf(owner)) assert.ok(await isListening('127.0.0.1', port), `port ${port} still open`);
    assert.ok(existsSync(stackFilePath(config.home)), "the owner's record stays");
  });

  it('stopping a stack stops its dev server and PostgreSQL and removes its record', async () => {
    for (const [i, stack] of stacks.entries()) {
      const home = join(parent, i === 0 ? 'a' : 'b', '.tideline');
      const { temporalPid } = readStackFile(home)!;
      await stack.stop();
      for (const port of portsOf(stack)) assert.equal(await isListening('127.0.0.1', port), false, `port ${port} closed`);
      assert.equal(alive(temporalPid!), false, `dev server pid ${temporalPid} gone`);
      assert.equal(existsSync(stackFilePath(home)), false);
    }
  });
});
