import { readFileSync, realpathSync, rmSync } from 'node:fs';
import { readdir, readFile, mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { signal, startEmbeddedPostgres, type EmbeddedPostgres } from '../../lib/db/embedded.js';
import { migrate } from '../../lib/db/migrate.js';
import { createPool } from '../../lib/db/pool.js';
import { stopWithProcess } from './stop-on-signal.js';

export interface TestPostgres {
  pool: pg.Pool;
  url: string;
  /** SIGKILLs the server and every process of it at once, as a crash would, and waits until they are gone. */
  kill(): Promise<void>;
  /** Starts the server again on the same data dir and port (crash recovery replays its WAL); the URL stays the same. */
  restart(): Promise<void>;
  /** Closes the pool, stops the server and removes its temp dir and data. */
  stop(): Promise<void>;
}

/** Durability off: tests only. Each commit still reaches the OS, so only a machine crash could lose it. */
const NO_FSYNC = { fsync: 'off', full_page_writes: 'off' };

/**
 * A migrated throwaway cluster in a fresh temp dir on a free port. By default commits are also asynchronous
 * (synchronous_commit off), which a SIGKILLed server may lose: fault tests pass `{ synchronousCommit: true }`.
 */
export async function startTestPostgres(options: { synchronousCommit?: boolean } = {}): Promise<TestPostgres> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-pg-'));
  const dataDir = path.join(dir, 'data');
  const settings = { ...NO_FSYNC, synchronous_commit: options.synchronousCommit ? 'on' : 'off' };
  // As root the data lands outside the mode-700 mkdtemp folder, linked from dataDir: removed where it really is.
  const removeFiles = async () => {
    await rm(await realpath(dataDir).catch(() => dataDir), { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  };
  try {
    let server: EmbeddedPostgres = await startEmbeddedPostgres({ dataDir, settings });
    const pool = createPool(server.url);
    try {
      await migrate(pool);
    } catch (e) {
      await pool.end();
      await server.stop();
      throw e;
    }
    const detachFromProcess = stopWithProcess({
      stop: async () => {
        await server.stop();
        await removeFiles();
      },
      stopNow: () => stopNow(dir, dataDir),
    });
    return {
      pool,
      url: server.url,
      kill: async () => {
        const pids = await serverProcesses(dataDir);
        for (const pid of pids) signal(pid, 'SIGKILL');
        await server.exited;
        while (pids.some((pid) => signal(pid, 0))) await new Promise((r) => setTimeout(r, 20));
      },
      restart: async () => {
        const restarted = await startEmbeddedPostgres({ dataDir, settings, port: server.port });
        // Pools hold the URL: a server on another port would leave them dialing the dead one.
        if (restarted.port !== server.port) {
          await restarted.stop();
          throw new Error(`PostgreSQL could not get its port back (${server.port}, got ${restarted.port})`);
        }
        server = restarted;
      },
      stop: async () => {
        detachFromProcess();
        await pool.end();
        await server.stop();
        await removeFiles();
      },
    };
  } catch (e) {
    await removeFiles();
    throw e;
  }
}

/**
 * Stops the cluster synchronously, from an exiting process: an immediate shutdown (SIGQUIT, which also ends the
 * backends and frees shared memory), waited for up to 5 s, then its files removed.
 */
function stopNow(dir: string, dataDir: string): void {
  const postmaster = postmasterPid(dataDir);
  if (signal(postmaster, 'SIGQUIT')) {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let waited = 0; waited < 5_000 && signal(postmaster, 0); waited += 20) Atomics.wait(pause, 0, 0, 20);
  }
  rmSync(realpathSync(dataDir), { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}

/** The first line of the cluster's postmaster.pid. */
function postmasterPid(dataDir: string): number {
  return Number(readFileSync(path.join(realpathSync(dataDir), 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** The postmaster and its children, the backends. */
async function serverProcesses(dataDir: string): Promise<number[]> {
  const postmaster = postmasterPid(dataDir);
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // Field 4 of /proc/<pid>/stat is the parent pid; the command name before it is in parentheses and may hold spaces.
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) children.push(Number(entry));
  }
  return [postmaster, ...children];
}
