import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { PostgresUser } from './postgres-user.js';

const INITDB_TIMEOUT_MS = 60_000;
const START_TIMEOUT_MS = 60_000;
/** Fast shutdown rolls back open transactions and writes a checkpoint; past this the postmaster is killed. */
const STOP_GRACE_MS = 30_000;
const KILL_WAIT_MS = 5_000;
const TAIL_LINES = 10;
const READY = 'database system is ready to accept connections';

interface Launch {
  binary: string;
  args: string[];
  /** Absent: this process's own user. */
  user?: PostgresUser;
  log: (line: string) => void;
}

/** A child whose output lines go to `log` and whose last lines are kept for error messages. */
interface Watched {
  child: ChildProcess;
  tail: string[];
  /** Settles when the child has exited or could not be spawned. */
  exited: Promise<void>;
}

function launch({ binary, args, user, log }: Launch): Watched {
  // The readiness line is matched in English: LC_MESSAGES=C keeps it so should a build carry translations.
  const child = spawn(binary, args, { ...user, env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  // Read to the end even after startup: a postmaster whose stderr pipe fills up blocks.
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      log(line);
    });
  }
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', () => resolveExit());
    child.once('error', () => resolveExit());
  });
  return { child, tail, exited };
}

function tailText(tail: string[]): string {
  return tail.length > 0 ? `; last log lines:\n${tail.join('\n')}` : ' (no output)';
}

/** Creates a cluster in `dataDir` (an empty folder `user` owns) with superuser `postgres`, password from `pwfile`. */
export function initCluster(opts: { initdb: string; dataDir: string; pwfile: string; user?: PostgresUser; log: (line: string) => void }): Promise<void> {
  const args = [
    `--pgdata=${opts.dataDir}`,
    '--auth=scram-sha-256',
    '--username=postgres',
    `--pwfile=${opts.pwfile}`,
    '--encoding=UTF8',
  ];
  const { child, tail, exited } = launch({ binary: opts.initdb, args, user: opts.user, log: opts.log });
  return new Promise((resolveInit, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      const message = `initdb of PostgreSQL's data folder ${opts.dataDir} did not finish within ${INITDB_TIMEOUT_MS / 1000} s${tailText(tail)}`;
      void within(exited, KILL_WAIT_MS).then(() => reject(new Error(message)));
    }, INITDB_TIMEOUT_MS);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${opts.initdb} for PostgreSQL's data folder ${opts.dataDir}: ${e.message}`));
    });
    // 'close' rather than 'exit': by then every output line has been read into the tail.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return;
      if (code === 0) resolveInit();
      else reject(new Error(`initdb of PostgreSQL's data folder ${opts.dataDir} failed (${signal ?? `exit code ${code}`})${tailText(tail)}`));
    });
  });
}

export interface Postmaster {
  /** Settles when the server process exits, whoever ended it, with how ("exited with 1", "exited with SIGKILL"). */
  exited: Promise<string>;
  /** Fast shutdown, then SIGKILL if the server is still up after a grace period. */
  stop(): Promise<void>;
}

/**
 * Starts the server on `dataDir` and resolves once it accepts connections. Rejects, never hangs, when
 * it cannot be spawned, exits during startup (the message carries its last log lines: a caller can
 * tell a taken port by "could not bind"), or is not ready within START_TIMEOUT_MS (it is stopped first).
 */
export function startPostmaster(opts: {
  postgres: string;
  dataDir: string;
  port: number;
  settings: Record<string, string | number>;
  user?: PostgresUser;
  log: (line: string) => void;
}): Promise<Postmaster> {
  const settings = Object.entries(opts.settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  const args = ['-D', opts.dataDir, '-p', String(opts.port), ...settings];
  return new Promise((resolveStart, reject) => {
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      finish();
    };
    const { child, tail, exited } = launch({
      binary: opts.postgres,
      args,
      user: opts.user,
      log: (line) => {
        opts.log(line);
        if (line.includes(READY)) settle(() => resolveStart(postmaster));
      },
    });
    const running = () => child.exitCode === null && child.signalCode === null;
    const postmaster: Postmaster = {
      exited: exited.then(() => `exited with ${child.signalCode ?? child.exitCode}`),
      // Signals only a child not yet reaped, so never a process that reused its pid.
      stop: () => shutDown((name) => running() && child.kill(name), (ms) => within(exited, ms)),
    };
    const timer = setTimeout(() => {
      settled = true;
      const message = `PostgreSQL on data folder ${opts.dataDir} was not ready within ${START_TIMEOUT_MS / 1000} s and was stopped${tailText(tail)}`;
      void postmaster.stop().then(() => reject(new Error(message)));
    }, START_TIMEOUT_MS);
    child.once('error', (e) => settle(() => reject(new Error(`could not run ${opts.postgres} on PostgreSQL's data folder ${opts.dataDir}: ${e.message}`))));
    child.once('close', (code, signal) => settle(() => reject(new Error(
      `PostgreSQL on data folder ${opts.dataDir} exited during startup (${signal ?? `exit code ${code}`})${tailText(tail)}`,
    ))));
  });
}

/** Resolves true when `done` settles within `ms`. */
async function within(done: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout(false), ms);
  });
  try {
    return await Promise.race([done.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * SIGINT (PostgreSQL's fast shutdown), waiting up to STOP_GRACE_MS for the postmaster to exit, then
 * SIGKILL. `signal` returns false when there is no process left to signal; `exitedWithin(ms)` says
 * whether it is gone within ms.
 */
export async function shutDown(
  signal: (name: NodeJS.Signals) => boolean,
  exitedWithin: (ms: number) => Promise<boolean>,
): Promise<void> {
  if (!signal('SIGINT')) return;
  if (await exitedWithin(STOP_GRACE_MS)) return;
  signal('SIGKILL');
  await exitedWithin(KILL_WAIT_MS);
}
