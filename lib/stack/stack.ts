import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TidelineConfig } from '../config.js';
import { startEmbeddedPostgres } from '../db/embedded.js';
import { alive, readStackFile, removeStackFile, type StackFile, writeStackFile } from './stack-file.js';
import { ensureTemporalCli } from './temporal-cli.js';
import { startTemporalDevServer } from './temporal-dev-server.js';

/** Where the running pieces of Tideline answer, whoever started them. */
export interface Stack {
  temporalAddress: string;
  uiUrl?: string;
  databaseUrl: string;
  /** One line per service: whether this process started it or attached to it, and why. */
  summary: string[];
  /**
   * Settles, naming the service and where its log is, if a server this process started exits before `stop()`;
   * never otherwise. A command that keeps the stack up ends on it instead of serving a half-dead stack.
   */
  died: Promise<string>;
  /** Stops what this process started (once, however often called); leaves alone what it found running. */
  stop(): Promise<void>;
}

/** What startStack will attach to and start for a state folder, decided before anything starts. */
export interface StackPlan {
  /** The live `tide` process that runs the folder's stack, as it recorded it in stack.json. */
  owner?: StackFile;
  /** A dev server whose owner died without stopping it: it holds the folder's SQLite file, so it is stopped first. */
  orphanDevServer?: number;
  startsTemporal: boolean;
  startsPostgres: boolean;
}

/**
 * TEMPORAL_ADDRESS / DATABASE_URL when set, else what the live owner of the state folder's stack runs;
 * whatever is still missing this process starts and owns. A folder has one owner at a time, so a
 * service its owner attached to elsewhere is an error here rather than a second server of the folder.
 */
export function planStack(config: TidelineConfig): StackPlan {
  const recorded = readStackFile(config.home);
  const owner = recorded && alive(recorded.pid) ? recorded : undefined;
  const startsTemporal = !config.temporalAddress && !owner?.temporalAddress;
  const startsPostgres = !config.databaseUrl && !owner?.databaseUrl;
  if (owner && (startsTemporal || startsPostgres)) {
    const [service, variable] = startsTemporal ? ['Temporal server', 'TEMPORAL_ADDRESS'] : ['PostgreSQL', 'DATABASE_URL'];
    throw new Error(
      `tide process ${owner.pid} runs the stack of ${config.home} with a ${service} it did not start; set ${variable} as it does`,
    );
  }
  const orphan = recorded?.temporalPid;
  return { owner, orphanDevServer: !owner && orphan && alive(orphan) ? orphan : undefined, startsTemporal, startsPostgres };
}

export interface StackOptions {
  /** Notes while starting (building the Temporal CLI, a relocated data folder). */
  log?: (line: string) => void;
  /** Aborting stops what was started so far and rejects, once the piece being started is up. */
  signal?: AbortSignal;
  /** planStack's answer, when the caller needed it first. */
  plan?: StackPlan;
}

/**
 * Brings up the stack of `config.home` as planStack decides: the Temporal dev server (SQLite file, log
 * and Web UI of the state folder, on free ports) and the embedded PostgreSQL (data in the state folder),
 * recorded in stack.json for the folder's other `tide` commands.
 */
export async function startStack(config: TidelineConfig, options: StackOptions = {}): Promise<Stack> {
  const { log = () => {}, signal } = options;
  const plan = options.plan ?? planStack(config);
  const { home } = config;
  // Private to its user: it holds the database password and the stack's record. Only a new folder is
  // made so; an existing one keeps its mode, since as root its PostgreSQL data may be in place inside it.
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const stops: (() => Promise<void>)[] = [];
  const stopStarted = async () => {
    for (const stop of stops.reverse()) await stop();
  };
  const started: StackFile = { pid: process.pid };
  const summary: string[] = [];
  const deaths: Promise<string>[] = [];
  const ownerNote = plan.owner && `tide process ${plan.owner.pid} runs it for ${home}`;

  let databaseUrl: string;
  let temporalAddress: string;
  let uiUrl = plan.owner?.uiUrl;
  try {
    signal?.throwIfAborted();
    if (plan.orphanDevServer) await stopOrphan(plan.orphanDevServer);

    if (config.databaseUrl) {
      databaseUrl = config.databaseUrl;
      summary.push(`PostgreSQL: attached to ${redacted(databaseUrl)} (DATABASE_URL)`);
    } else if (plan.owner?.databaseUrl) {
      databaseUrl = plan.owner.databaseUrl;
      summary.push(`PostgreSQL: attached to ${redacted(databaseUrl)}; ${ownerNote}`);
    } else {
      const dataDir = join(home, 'postgres');
      const pg = await startEmbeddedPostgres({ dataDir });
      stops.push(() => pg.stop());
      if (pg.exited) deaths.push(pg.exited.then((how) => `the embedded PostgreSQL of ${home} ${how}`));
      if (pg.notice) log(pg.notice);
      databaseUrl = started.databaseUrl = pg.url;
      summary.push(`PostgreSQL: started the embedded server for ${home} on 127.0.0.1:${pg.port}`);
      signal?.throwIfAborted();
    }

    if (config.temporalAddress) {
      temporalAddress = config.temporalAddress;
      uiUrl = undefined;
      summary.push(`Temporal: attached to ${temporalAddress} (TEMPORAL_ADDRESS)`);
    } else if (plan.owner?.temporalAddress) {
      temporalAddress = plan.owner.temporalAddress;
      summary.push(`Temporal: attached to ${temporalAddress}; ${ownerNote}`);
    } else {
      const cli = await ensureTemporalCli(log);
      const server = await startTemporalDevServer({
        cli,
        dbFile: join(home, 'temporal.sqlite'),
        namespace: config.namespace,
        logFile: join(home, 'temporal.log'),
      });
      stops.push(() => server.stop());
      deaths.push(server.exited.then((how) => `the Temporal dev server of ${home} ${how}; see ${join(home, 'temporal.log')}`));
      temporalAddress = started.temporalAddress = server.address;
      started.temporalPid = server.pid;
      uiUrl = started.uiUrl = server.uiUrl;
      summary.push(`Temporal: started a dev server for ${home} on ${temporalAddress} (Web UI ${uiUrl})`);
      signal?.throwIfAborted();
    }
  } catch (err) {
    await stopStarted();
    throw err;
  }

  if (stops.length > 0) writeStackFile(home, started);
  let stopping: Promise<void> | undefined;
  const died = new Promise<string>((resolveDeath) => {
    for (const death of deaths) void death.then((why) => stopping === undefined && resolveDeath(why));
  });
  return {
    temporalAddress,
    uiUrl,
    databaseUrl,
    summary,
    died,
    stop() {
      stopping ??= (async () => {
        if (stops.length > 0) removeStackFile(home);
        await stopStarted();
      })();
      return stopping;
    },
  };
}

/** A PostgreSQL URL without its credentials, fit to print. */
function redacted(url: string): string {
  return url.replace(/\/\/[^@]*@/, '//…@');
}

/** Stops a dev server whose owner died without stopping it, so this process can own the folder's SQLite file. */
function stopOrphan(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // Not ours to signal (EPERM): the pid was reused by another user's process after the dev server ended.
    return Promise.resolve();
  }
  return new Promise((resolveStop) => {
    const poll = setInterval(() => {
      if (!alive(pid)) {
        clearInterval(poll);
        resolveStop();
      }
    }, 100);
  });
}
