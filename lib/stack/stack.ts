import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TidelineConfig } from '../config.js';
import { startEmbeddedPostgres } from '../db/embedded.js';
import { isListening, splitAddress } from '../ports.js';
import { ensureTemporalCli } from './temporal-cli.js';
import { startTemporalDevServer } from './temporal-dev-server.js';

/** Where the running pieces of Tideline answer, whoever started them. */
export interface Stack {
  temporalAddress: string;
  uiUrl?: string;
  databaseUrl: string;
  /** Stops what this process started; leaves alone what it found running. */
  stop(): Promise<void>;
}

/** What a process that started embedded services records, so other `tide` commands can reach them. */
interface StackFile {
  pid: number;
  temporalAddress?: string;
  temporalPid?: number;
  uiUrl?: string;
  databaseUrl?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readStackFile(home: string): StackFile | undefined {
  const path = join(home, 'stack.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as StackFile) : undefined;
}

/** Stops a dev server whose owner died without stopping it, so this process can own it. */
function stopOrphan(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  return new Promise((resolveStop) => {
    const poll = setInterval(() => {
      if (!alive(pid)) {
        clearInterval(poll);
        resolveStop();
      }
    }, 100);
  });
}

/**
 * Brings up what is missing: uses TEMPORAL_ADDRESS / DATABASE_URL when set, else services another
 * `tide` process already runs from the same state folder, else starts the Temporal dev server
 * (SQLite file and Web UI in the state folder) and the embedded PostgreSQL itself.
 */
export async function startStack(config: TidelineConfig, log: (line: string) => void): Promise<Stack> {
  mkdirSync(config.home, { recursive: true });
  const recorded = readStackFile(config.home);
  const running = recorded && alive(recorded.pid) ? recorded : undefined;
  if (!running && recorded?.temporalPid && alive(recorded.temporalPid)) await stopOrphan(recorded.temporalPid);
  const stops: (() => Promise<void>)[] = [];
  const started: StackFile = { pid: process.pid };

  let databaseUrl = config.databaseUrl ?? running?.databaseUrl;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({ dataDir: join(config.home, 'postgres') });
    if (pg.notice) log(pg.notice);
    databaseUrl = started.databaseUrl = pg.url;
    stops.push(() => pg.stop());
  }

  let temporalAddress = config.temporalAddressGiven ? config.temporalAddress : running?.temporalAddress;
  let uiUrl = running?.uiUrl;
  if (!temporalAddress) {
    const { host, port } = splitAddress(config.temporalAddress);
    if (await isListening(host, port)) {
      temporalAddress = config.temporalAddress;
    } else {
      const cli = await ensureTemporalCli(log);
      const server = await startTemporalDevServer({
        cli,
        dbFile: join(config.home, 'temporal.sqlite'),
        port,
        uiPort: port + 1000,
        namespace: config.namespace,
        logFile: join(config.home, 'temporal.log'),
      });
      temporalAddress = started.temporalAddress = server.address;
      started.temporalPid = server.pid;
      uiUrl = started.uiUrl = server.uiUrl;
      stops.push(() => server.stop());
    }
  }

  const stackFile = join(config.home, 'stack.json');
  if (stops.length > 0) writeFileSync(stackFile, JSON.stringify(started, null, 2));
  return {
    temporalAddress,
    uiUrl,
    databaseUrl,
    async stop() {
      if (stops.length > 0) rmSync(stackFile, { force: true });
      for (const stop of stops.reverse()) await stop();
    },
  };
}
