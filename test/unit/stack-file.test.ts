import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../lib/config.js';
import { startStack } from '../../lib/stack/stack.js';
import { stackFilePath, writeStackFile } from '../../lib/stack/stack-file.js';

const parent = await mkdtemp(path.join(os.tmpdir(), 'tideline-stack-file-'));
after(() => rm(parent, { recursive: true, force: true }));

describe('stack.json and the state folder', () => {
  it('writes stack.json readable by its owner only, also over a world-readable one a crashed owner left', async () => {
    const home = path.join(parent, 'written');
    await mkdir(home);
    writeStackFile(home, { pid: process.pid, databaseUrl: 'postgres://postgres:secret@127.0.0.1:1/tideline' });
    assert.equal((await stat(stackFilePath(home))).mode & 0o777, 0o600);

    await writeFile(stackFilePath(home), '{}', { mode: 0o644 });
    writeStackFile(home, { pid: process.pid });
    assert.equal((await stat(stackFilePath(home))).mode & 0o777, 0o600);
  });

  it('creates the state folder mode 700', async () => {
    const home = path.join(parent, 'nested', 'home');
    const config = loadConfig({ TIDELINE_HOME: home, TEMPORAL_ADDRESS: '127.0.0.1:1', DATABASE_URL: 'postgres://x@127.0.0.1:1/x' });
    const stack = await startStack(config);
    await stack.stop();
    assert.equal((await stat(home)).mode & 0o777, 0o700);
  });
});
