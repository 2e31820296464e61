import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureTemporalCli } from '../../lib/stack/temporal-cli.js';
import { startTemporalDevServer } from '../../lib/stack/temporal-dev-server.js';

let failingClis = 0;

/**
 * A `temporal` that fails its first `failures` server starts with `message` and exit status 1, as the real CLI does
 * when a port it chose was taken in between, then runs the real CLI.
 */
async function failingCli(dir: string, cli: string, failures: number, message: string): Promise<string> {
  const path = join(dir, `temporal-${++failingClis}`);
  const count = `${path}.starts`;
  await writeFile(`${path}.said`, `${message}\n`);
  await writeFile(path, `#!/usr/bin/env bash
if [ "$1 $2" = "server start-dev" ]; then
  n=$(cat "${count}" 2>/dev/null || echo 0); echo $((n + 1)) > "${count}"
  if [ "$n" -lt ${failures} ]; then cat "${path}.said" >&2; exit 1; fi
fi
exec "${cli}" "$@"
`);
  await chmod(path, 0o755);
  return path;
}

describe('the Temporal dev server start', () => {
  let dir: string;
  let cli: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tideline-dev-server-'));
    cli = await ensureTemporalCli((line) => console.log(line));
  });

  after(() => rm(dir, { recursive: true, force: true }));

  it('picks fresh ports and starts again when a port it chose was taken before the server bound it', async () => {
    const clashing = await failingCli(dir, cli, 2, 'level=ERROR msg="can\'t set frontend port 40000: listen tcp 127.0.0.1:40000: bind: address already in use"');
    const server = await startTemporalDevServer({ cli: clashing, uiPort: false, logFile: join(dir, 'clash.log') });
    await server.stop();
  });

  it('gives up after three clashes, saying so', async () => {
    const clashing = await failingCli(dir, cli, 3, 'bind: address already in use');
    await assert.rejects(startTemporalDevServer({ cli: clashing, uiPort: false }), /exited with 1: a port it chose was taken/);
  });

  it('any other failure ends the start at once, with the server\'s last words when it has no log file', async () => {
    const broken = await failingCli(dir, cli, 1, 'Error: unable to open the database file');
    await assert.rejects(startTemporalDevServer({ cli: broken, uiPort: false }), /exited with 1: Error: unable to open the database file/);
    const logFile = join(dir, 'broken.log');
    const logged = await failingCli(dir, cli, 1, 'Error: unable to open the SQLite file');
    await assert.rejects(startTemporalDevServer({ cli: logged, uiPort: false, logFile }), new RegExp(`exited with 1; see ${logFile}`));
  });
});
