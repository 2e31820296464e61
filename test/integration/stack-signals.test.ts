import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isListening, splitAddress } from '../../lib/ports.js';
import { alive, readStackFile, stackFilePath, type StackFile } from '../../lib/stack/stack-file.js';
import { embeddedEnv, emptyDatasetConfig, outputContains, tide, within } from '../helpers/cli.js';

const STARTUP_MS = 240_000;
const EXIT_MS = 60_000;

function portsOf(record: StackFile): number[] {
  return [splitAddress(record.temporalAddress!).port, Number(new URL(record.uiUrl!).port), Number(new URL(record.databaseUrl!).port)];
}

describe('tide commands and signals', () => {
  const homes: string[] = [];
  const leftovers: ChildProcess[] = [];

  /** A state folder inside a fresh mode-700 temp folder. */
  async function freshHome(): Promise<string> {
    const home = join(await mkdtemp(join(tmpdir(), 'tideline-signals-')), '.tideline');
    homes.push(home);
    return home;
  }

  after(async () => {
    for (const child of leftovers) if (child.exitCode === null) child.kill('SIGKILL');
    for (const home of homes) {
      // As root, PostgreSQL's data was placed outside the mode-700 temp folder, linked from <home>/postgres.
      await rm(await realpath(join(home, 'postgres')).catch(() => home), { recursive: true, force: true });
      await rm(join(home, '..'), { recursive: true, force: true });
    }
  });

  it('`tide up` owns its stack: other commands attach to it, and SIGINT stops its dev server and PostgreSQL', async () => {
    const home = await freshHome();
    const env = embeddedEnv(home);
    const up = tide(['up'], env);
    leftovers.push(up.child);
    await within('tide up', outputContains(up.child, up.output, 'Press Ctrl-C to stop.'), STARTUP_MS, up.output);
    const record = readStackFile(home);
    assert.ok(record?.temporalPid && record.temporalAddress && record.databaseUrl && record.uiUrl, `stack.json: ${JSON.stringify(record)}`);
    assert.equal(record.pid, up.child.pid);
    assert.match(up.output(), new RegExp(`Temporal: started a dev server for ${home} on ${record.temporalAddress} \\(Web UI ${record.uiUrl}\\)`));
    assert.match(up.output(), /Task queues: tideline-cpu-[0-9a-f]{6} \(control\), tideline-gpu-[0-9a-f]{6} \(gpu\)/);

    // Another command of the same folder only attaches: one line per service, no start step.
    const list = tide(['dataset', 'list'], env);
    leftovers.push(list.child);
    const listed = await within('tide dataset list', list.exited, EXIT_MS, list.output);
    assert.equal(listed.code, 0, list.output());
    assert.ok(list.output().includes(`Temporal: attached to ${record.temporalAddress}; tide process ${record.pid} runs it for ${home}`), list.output());
    assert.doesNotMatch(list.output(), /Starting/);

    up.child.kill('SIGINT');
    const exit = await within('tide up after SIGINT', up.exited, EXIT_MS, up.output);
    assert.deepEqual(exit, { code: 0, signal: null }, up.output());
    for (const port of portsOf(record)) assert.equal(await isListening('127.0.0.1', port), false, `port ${port} closed`);
    assert.equal(alive(record.temporalPid), false, `dev server pid ${record.temporalPid} gone`);
    assert.equal(existsSync(stackFilePath(home)), false, 'stack.json removed');
  });

  it('`tide up` ends, naming the server, when a server of its stack dies, and stops the rest', async () => {
    const home = await freshHome();
    const up = tide(['up'], embeddedEnv(home));
    leftovers.push(up.child);
    await within('tide up', outputContains(up.child, up.output, 'Press Ctrl-C to stop.'), STARTUP_MS, up.output);
    const record = readStackFile(home)!;
    process.kill(record.temporalPid!, 'SIGKILL');
    const exit = await within('tide up after its dev server died', up.exited, EXIT_MS, up.output);
    assert.deepEqual(exit, { code: 1, signal: null }, up.output());
    assert.match(up.output(), new RegExp(`the Temporal dev server of ${home} exited with SIGKILL; see ${home}/temporal.log: stopping`));
    assert.equal(await isListening('127.0.0.1', Number(new URL(record.databaseUrl!).port)), false, 'PostgreSQL stopped too');
    assert.equal(existsSync(stackFilePath(home)), false, 'stack.json removed');
  });

  it('a one-shot command that started the stack stops it and exits on SIGTERM, whatever it waits for', async () => {
    const home = await freshHome();
    // tide run checks the dataset before it starts anything: register an empty one first.
    const config = await emptyDatasetConfig(join(home, '..'), 'mnist-drift');
    const add = tide(['dataset', 'add', config], embeddedEnv(home));
    leftovers.push(add.child);
    assert.equal((await within('tide dataset add', add.exited, STARTUP_MS, add.output)).code, 0, add.output());
    // No workers poll the pipeline's queue: `--wait` would wait for ever.
    const run = tide(['run', 'examples/mnist-drift/pipeline.yaml', '--id', 'waits', '--wait'], embeddedEnv(home));
    leftovers.push(run.child);
    await within('tide run', outputContains(run.child, run.output, 'Started pipeline waits'), STARTUP_MS, run.output);
    assert.match(run.output(), /on task queue tideline-cpu-[0-9a-f]{6}\n/);
    const record = readStackFile(home)!;
    run.child.kill('SIGTERM');
    const exit = await within('tide run after SIGTERM', run.exited, EXIT_MS, run.output);
    assert.deepEqual(exit, { code: 143, signal: null }, run.output());
    for (const port of portsOf(record)) assert.equal(await isListening('127.0.0.1', port), false, `port ${port} closed`);
    assert.equal(alive(record.temporalPid!), false, `dev server pid ${record.temporalPid} gone`);
  });

  it('SIGINT during `tide bench dataplane` stops its PostgreSQL and removes its temp folder', async () => {
    // The bench makes its folder in os.tmpdir(): a private TMPDIR tells which one it is.
    const tmp = await mkdtemp(join(tmpdir(), 'tideline-signals-bench-'));
    homes.push(join(tmp, '.tideline'));
    // Open like /tmp, so that as root the data is not relocated out of the folder the bench removes.
    await chmod(tmp, 0o755);
    const bench = tide(['bench', 'dataplane', '--rows', '400000', '--images', '0'], { ...embeddedEnv(join(tmp, '.tideline')), TMPDIR: tmp });
    leftovers.push(bench.child);
    await within('tide bench dataplane', outputContains(bench.child, bench.output, 'Criteo-layout records'), STARTUP_MS, bench.output);
    const [folder] = (await readdir(tmp)).filter((name) => name.startsWith('tideline-bench-dataplane-'));
    assert.ok(folder, `no bench folder in ${tmp}`);
    const postmaster = Number((await readFile(join(tmp, folder, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    assert.ok(alive(postmaster));
    bench.child.kill('SIGINT');
    const exit = await within('tide bench dataplane after SIGINT', bench.exited, EXIT_MS, bench.output);
    assert.deepEqual(exit, { code: 130, signal: null }, bench.output());
    assert.equal(alive(postmaster), false, `postmaster ${postmaster} gone`);
    assert.equal(existsSync(join(tmp, folder)), false, `bench folder removed; output:\n${bench.output()}`);
  });
});
