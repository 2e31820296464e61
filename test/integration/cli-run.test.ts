import { Client, Connection } from '@temporalio/client';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readStackFile } from '../../lib/stack/stack-file.js';
import { embeddedEnv, emptyDatasetConfig, outputContains, tide, within } from '../helpers/cli.js';

const STARTUP_MS = 240_000;
const COMMAND_MS = 120_000;

describe('tide run and tide status say what failed (the CLI as a child process, on its embedded stack)', () => {
  let dir: string;
  let home: string;
  let up: ReturnType<typeof tide> | undefined;
  const children: ChildProcess[] = [];

  /** Runs a tide command to its end on the stack `tide up` owns. */
  async function command(args: string[]) {
    const run = tide(args, embeddedEnv(home));
    children.push(run.child);
    const { code } = await within(`tide ${args.join(' ')}`, run.exited, COMMAND_MS, run.output);
    return { code, output: run.output(), stdout: run.stdout() };
  }

  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    if (up && up.child.exitCode === null) {
      up.child.kill('SIGINT');
      await within('tide up after SIGINT', up.exited, 60_000, up.output).catch(() => up!.child.kill('SIGKILL'));
    }
    await rm(await realpath(join(home, 'postgres')).catch(() => home), { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses before starting anything, exits non-zero, and explains a pipeline that failed', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tideline-cli-run-'));
    home = join(dir, '.tideline');
    up = tide(['up'], embeddedEnv(home));
    await within('tide up', outputContains(up.child, up.output, 'Press Ctrl-C to stop.'), STARTUP_MS, up.output);

    // An unknown dataset: nothing starts, the exit code says so, the message names the field.
    const unknown = await command(['run', 'examples/mnist-drift/pipeline.yaml', '--id', 'no-data']);
    assert.equal(unknown.code, 1, unknown.output);
    assert.match(unknown.output, /dataset\.name: no dataset named "mnist-drift" is registered/);
    assert.doesNotMatch(unknown.output, /Started pipeline/);

    // A model that does not fit the dataset: refused the same way.
    const config = await emptyDatasetConfig(dir, 'mnist-drift');
    assert.equal((await command(['dataset', 'add', config])).code, 0);
    const narrow = join(dir, 'narrow.json');
    await writeFile(narrow, JSON.stringify({
      dataset: { name: 'mnist-drift' }, model: { architecture: 'mlp', numClasses: 3 },
      training: { optimizer: { name: 'sgd', lr: 0.1 } }, trigger: { kind: 'dataAmount', every: 100 },
    }));
    const misfit = await command(['run', narrow, '--id', 'misfit']);
    assert.equal(misfit.code, 1, misfit.output);
    assert.match(misfit.output, /model\.numClasses: 3 is fewer than the 10 classes of dataset "mnist-drift"/);

    // A pipeline started around the CLI's checks fails in its workflow: status shows where, why and what next.
    const record = readStackFile(home)!;
    const connection = await Connection.connect({ address: record.temporalAddress! });
    try {
      const client = new Client({ connection });
      const queue = /Task queues: (\S+) \(control\)/.exec(up.output())![1]!;
      const handle = await client.workflow.start('pipelineWorkflow', {
        taskQueue: queue, workflowId: 'lost-data',
        args: [{ dataset: { name: 'gone' }, model: { architecture: 'mlp', numClasses: 10 }, training: { optimizer: { name: 'sgd', lr: 0.1 } }, trigger: { kind: 'dataAmount', every: 100 }, queues: { cpu: queue, gpu: queue.replace('-cpu-', '-gpu-') } }],
      });
      await handle.result().catch(() => undefined);
    } finally {
      await connection.close();
    }
    const status = await command(['status', 'lost-data']);
    assert.equal(status.code, 0, status.output);
    assert.match(status.output, /Pipeline lost-data: FAILED/);
    assert.match(status.output, /Failed \(registerPipeline\): dataset\.name: no dataset named "gone" is registered.*\[DatasetNotFound\]/);
    assert.match(status.output, /Next: register the dataset with `tide dataset add/);
    const json = await command(['status', 'lost-data', '--json']);
    const parsed = JSON.parse(json.stdout) as { status: string; failure: { type: string; stage: string } };
    assert.deepEqual([parsed.status, parsed.failure.type, parsed.failure.stage], ['FAILED', 'DatasetNotFound', 'registerPipeline']);

    // tide evaluate names the bad flag, or the pipeline it cannot find, and starts nothing.
    const badStrategy = await command(['evaluate', 'lost-data', '--strategy', '{kind: slicing}']);
    assert.equal(badStrategy.code, 1, badStrategy.output);
    assert.match(badStrategy.output, /--strategy \(every\): expected a duration such as "30s"/);
    const badModels = await command(['evaluate', 'lost-data', '--models', 'all']);
    assert.match(badModels.output, /--models: /);
    const unregistered = await command(['evaluate', 'lost-data', '--strategy', 'betweenTriggers']);
    assert.equal(unregistered.code, 1, unregistered.output);
    assert.match(unregistered.output, /no pipeline named "lost-data" in the database/);
  });
});
