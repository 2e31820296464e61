import { type ChildProcess, execFile, spawn, type StdioPipe } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
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

/** Port clashes a fresh pick of ports gets past; other failures end the start at once. */
const START_ATTEMPTS = 3;

/** Starts `temporal server start-dev` and waits until the cluster reports healthy. */
export async function startTemporalDevServer(opts: DevServerOptions): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(attempt === 1 ? opts.port : undefined);
    const uiPort = opts.uiPort === false ? undefined : await freePort(attempt === 1 ? opts.uiPort : undefined);
    try {
      return await startOnPorts(opts, port, uiPort);
    } catch (err) {
      // Another process can take a port between freePort and the server binding it.
      if (!(err instanceof PortClash) || attempt === START_ATTEMPTS) throw err;
    }
  }
}

class PortClash extends Error {}

async function startOnPorts(opts: DevServerOptions, port: number, uiPort: number | undefined): Promise<DevServer> {
  const address = `127.0.0.1:${port}`;
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'];
  args.push('--namespace', opts.namespace ?? 'default');
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (opts.searchAttributes !== false) for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  const dynamic = { 'frontend.enableServerVersionCheck': false, ...opts.dynamicConfig };
  for (const [key, value] of Object.entries(dynamic)) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);

  const output = serverOutput(opts.logFile);
  const child = spawn(opts.cli, args, { stdio: ['ignore', output.stdio, output.stdio] });
  output.follow(child);
  let exited: string | undefined;
  const exit = new Promise<string>((resolveExit) => child.on('close', (code, signal) => resolveExit(exited = `exited with ${signal ?? code}`)));
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited) {
      process.off('exit', killOnExit);
      const said = output.text();
      if (/address already in use/i.test(said)) throw new PortClash(`The Temporal dev server ${exited}: a port it chose was taken`);
      throw new Error(`The Temporal dev server ${exited}${opts.logFile ? `; see ${opts.logFile}` : `: ${lastLine(said)}`}`);
    }
    try {
      await run(opts.cli, ['operator', 'cluster', 'health', '--address', address], { timeout: 5_000 });
      break;
    } catch {
      if (Date.now() > deadline) {
        process.off('exit', killOnExit);
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

/** Where the server's output goes (its log file, or a pipe kept in memory), and what it has said since it started. */
function serverOutput(logFile: string | undefined): { stdio: number | StdioPipe; follow(child: ChildProcess): void; text(): string } {
  if (logFile) {
    const fd = openSync(logFile, 'a');
    const start = fstatSync(fd).size;
    return {
      stdio: fd,
      follow: () => closeSync(fd),
      text: () => {
        const read = openSync(logFile, 'r');
        try {
          const size = fstatSync(read).size;
          const from = Math.max(start, size - KEPT_OUTPUT);
          const buffer = Buffer.alloc(size - from);
          readSync(read, buffer, 0, buffer.length, from);
          return buffer.toString();
        } finally {
          closeSync(read);
        }
      },
    };
  }
  let said = '';
  return {
    stdio: 'pipe',
    follow: (child) => {
      for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => (said = (said + chunk.toString()).slice(-KEPT_OUTPUT)));
    },
    text: () => said,
  };
}

/** Enough of the server's last words to tell why it stopped. */
const KEPT_OUTPUT = 16 * 1024;

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) || 'no output';
}
