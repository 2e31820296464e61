import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, lstat, mkdtemp, readFile, readlink, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../lib/db/embedded.js';
import { packageNativeDir } from '../../lib/db/postgres-binaries.js';
import { passwordFilePath } from '../../lib/db/postgres-password.js';
import { ensurePostgresUser, runningAsRoot } from '../../lib/db/postgres-user.js';

// Throwaway clusters: durability off.
const SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

/** Folders to remove after the suite; a relocated data dir is removed where it really is. */
const leftovers: string[] = [];
after(async () => {
  for (const dir of leftovers.reverse()) await rm(dir, { recursive: true, force: true });
});

/** A fresh mkdtemp folder: mode 700, so as root the postgres user cannot enter it. */
async function privateDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-embedded-pg-it-'));
  leftovers.push(dir);
  return dir;
}

/** Records where `dataDir`'s data really is, so the suite removes it even when relocated out of its temp folder. */
async function forgetDataAfterwards(dataDir: string): Promise<void> {
  leftovers.push(await realpath(dataDir));
}

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

function passwordOf(url: string): string {
  return decodeURIComponent(new URL(url).password);
}

async function postmasterPid(dataDir: string): Promise<number> {
  return Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
}

describe('embedded PostgreSQL', () => {
  it('starts in a data folder inside a mode-700 folder, is adopted while running, and keeps its data across restarts', async () => {
    const dataDir = path.join(await privateDir(), 'data');
    const first = await startEmbeddedPostgres({ dataDir, settings: SETTINGS });
    await forgetDataAfterwards(dataDir);
    if (runningAsRoot()) {
      // The postgres user cannot enter the mkdtemp folder: the data lives elsewhere, linked from the requested path.
      assert.ok((await lstat(dataDir)).isSymbolicLink());
      assert.match(first.notice ?? '', new RegExp(`${dataDir}.*is in ${await readlink(dataDir)}.*cannot traverse`));
    } else {
      assert.equal(first.notice, undefined);
    }
    assert.deepEqual((await query(first.url, 'SELECT 1 AS one')).rows, [{ one: 1 }]);
    await query(first.url, 'CREATE TABLE kept (note text); INSERT INTO kept VALUES ($$still here$$)');
    const password = passwordOf(first.url);
    assert.notEqual(password, 'tideline', 'a fresh cluster gets a random password');
    assert.ok(password.length >= 24);
    const passwordFile = await stat(passwordFilePath(dataDir));
    assert.equal(passwordFile.mode & 0o777, 0o600);
    assert.equal(passwordFile.uid, process.getuid!());

    const adopted = await startEmbeddedPostgres({ dataDir, settings: SETTINGS });
    assert.equal(adopted.port, first.port);
    assert.equal(passwordOf(adopted.url), password, 'adoption reads the password file');
    const pid = await postmasterPid(dataDir);
    await adopted.stop();
    assert.throws(() => process.kill(pid, 0), 'the adopted server is stopped');
    await first.stop();

    const second = await startEmbeddedPostgres({ dataDir, settings: SETTINGS });
    try {
      assert.deepEqual((await query(second.url, 'SELECT note FROM kept')).rows, [{ note: 'still here' }]);
      assert.equal(passwordOf(second.url), password, 'a restart reads the password file');
    } finally {
      await second.stop();
    }
    await assert.rejects(query(second.url, 'SELECT 1'), 'stopped servers refuse connections');
  });

  it('starts a cluster made before per-cluster passwords with the fixed password it was made with', async () => {
    const dataDir = path.join(await privateDir(), 'data');
    const made = await startEmbeddedPostgres({ dataDir, settings: SETTINGS });
    await forgetDataAfterwards(dataDir);
    await query(made.url, `ALTER USER postgres PASSWORD 'tideline'`);
    await made.stop();
    await rm(passwordFilePath(dataDir));

    const legacy = await startEmbeddedPostgres({ dataDir, settings: SETTINGS });
    try {
      assert.equal(passwordOf(legacy.url), 'tideline');
      assert.deepEqual((await query(legacy.url, 'SELECT 1 AS one')).rows, [{ one: 1 }]);
    } finally {
      await legacy.stop();
    }
  });

  it('copies the binaries to a folder the postgres user can reach when it cannot reach them', async (t) => {
    if (!runningAsRoot()) return t.skip('needs root');
    const nativeDir = path.join(await privateDir(), 'native');
    await symlink(await packageNativeDir(), nativeDir);
    const user = ensurePostgresUser();
    const inPlace = spawnSync(path.join(nativeDir, 'bin', 'initdb'), ['--version'], { ...user });
    assert.equal((inPlace.error as NodeJS.ErrnoException | undefined)?.code, 'EACCES', 'the postgres user cannot run the binaries in place');

    const dataParent = await privateDir();
    await chmod(dataParent, 0o755);
    const dataDir = path.join(dataParent, 'data');
    const server = await startEmbeddedPostgres({ dataDir, settings: SETTINGS, nativeDir });
    try {
      assert.equal(server.notice, undefined, 'the data stays where asked: its parent is reachable');
      const executable = await realpath(`/proc/${await postmasterPid(dataDir)}/exe`);
      const copyDir = path.dirname(path.dirname(executable));
      leftovers.push(copyDir);
      assert.equal(path.dirname(copyDir), os.tmpdir());
      assert.match(path.basename(copyDir), /^tideline-postgres-/);
      const copyStats = await stat(copyDir);
      assert.equal(copyStats.uid, 0);
      assert.equal(copyStats.mode & 0o777, 0o755);
      assert.ok((await lstat(path.join(copyDir, 'lib', 'libpq.so.5'))).isSymbolicLink(), 'library links stay links');
      assert.deepEqual((await query(server.url, 'SELECT 1 AS one')).rows, [{ one: 1 }]);
    } finally {
      await server.stop();
    }
  });

  it('fails at once, naming the folder, when the data folder cannot be created', async () => {
    const notAFolder = path.join(await privateDir(), 'file');
    await writeFile(notAFolder, 'not a folder');
    const dataDir = path.join(notAFolder, 'data');
    const started = Date.now();
    await assert.rejects(startEmbeddedPostgres({ dataDir, settings: SETTINGS }), (e: Error) => {
      assert.ok(e.message.includes(notAFolder), e.message);
      return true;
    });
    assert.ok(Date.now() - started < 5_000);
  });

  it('fails within seconds with the server log when the data folder is damaged', async () => {
    const dataDir = path.join(await privateDir(), 'data');
    const server = await startEmbeddedPostgres({ dataDir, settings: SETTINGS });
    await forgetDataAfterwards(dataDir);
    await server.stop();
    await writeFile(path.join(dataDir, 'PG_VERSION'), '9\n');
    const realDataDir = await realpath(dataDir);
    const started = Date.now();
    await assert.rejects(startEmbeddedPostgres({ dataDir, settings: SETTINGS }), (e: Error) => {
      assert.ok(e.message.includes(realDataDir), e.message);
      assert.match(e.message, /exited during startup[\s\S]*incompatible with server/);
      return true;
    });
    assert.ok(Date.now() - started < 10_000);
  });
});
