import { execFile, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { promisify } from 'node:util';
import { freePort } from '../ports.js';

const run = promisify(execFile);

/** Search attributes Tideline sets on its workflows, so pipelines can be listed by dataset in the Web UI. */
export const SEARCH_ATTRIBUTES = { TidelinePipeline: 'Keyword', TidelineDataset: 'Keyword' } as const;

export interface DevServer {
  address: string;
  pid: number;
  uiUrl?: string;
  /** Settles when the server process exits, whoever ended it, with how ("exited with 1", "exited with SIGKILL"). */
  exited: Promise<string>;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  cli: string;
  /** SQLite file that keeps workflow histories across restarts; in memory when absent. */
  dbFile?: string;
  port?: number;
  /** Web UI port, or false for a headless server. */
  uiPort?: number | false;
  namespace?: string;
  logFile?: string;
  /** Extra dynamic config, e.g. a low continue-as-new threshold in tests. */
  dynamicConfig?: Record<string, string | number | boolean>;
  readyTimeoutMs?: number;
  /** False starts the server without SEARCH_ATTRIBUTES, like a server Tideline did not start; tests use it. */
  searchAttributes?: boolean;
}

/** Starts `temporal server start-dev` and waits until the cluster reports healthy. */
export async function startTemporalDevServer(opts: DevServerOptions): Promise<DevServer> {
  const port = await freePort(opts.port ?? 0);
  const uiPort = opts.uiPort === false ? undefined : await freePort(opts.uiPort ?? 0);
  const address = `127.0.0.1:${port}`;
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'];
  args.push('--namespace', opts.namespace ?? 'default');
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (opts.searchAttributes !== false) for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  const dynamic = { 'frontend.enableServerVersionCheck': false, ...opts.dynamicConfig };
  for (const [key, value] of Object.entries(dynamic)) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);

  const out = opts.logFile ? openSync(opts.logFile, 'a') : 'ignore';
  const child = spawn(opts.cli, args, { stdio: ['ignore', out, out] });
  let exited: string | undefined;
  const exit = new Promise<string>((resolveExit) => child.on('exit', (code, signal) => resolveExit(exited = `exited with ${signal ?? code}`)));
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited) throw new Error(`The Temporal dev server ${exited}${opts.logFile ? `; see ${opts.logFile}` : ''}`);
    try {
      await run(opts.cli, ['operator', 'cluster', 'health', '--address', address], { timeout: 5_000 });
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`The Temporal dev server did not become healthy at ${address} within ${(opts.readyTimeoutMs ?? 60_000) / 1000}s`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  return {
    address,
    pid: child.pid!,
    uiUrl: uiPort === undefined ? undefined : `http://127.0.0.1:${uiPort}`,
    exited: exit,
    stop: () =>
      new Promise<void>((resolveStop) => {
        process.off('exit', killOnExit);
        if (exited) return resolveStop();
        child.once('exit', () => resolveStop());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      }),
  };
}
