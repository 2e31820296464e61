import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, makeTelemetryFilterString, DefaultLogger, type LogLevel as SdkLogLevel, type LogMetadata } from '@temporalio/worker';
import type pg from 'pg';
import { loadConfig, type TidelineConfig } from '../lib/config.js';
import { migrate } from '../lib/db/migrate.js';
import { createPool } from '../lib/db/pool.js';
import { planStack, startStack, type Stack } from '../lib/stack/stack.js';
import { registerSearchAttributes } from '../workers/search-attributes.js';
import { exitOnSignal, shutdownSignal } from './signals.js';

/** Everything a command needs: the stack's addresses, a pool, a Temporal client. */
export interface Context {
  config: TidelineConfig;
  stack: Stack;
  pool: pg.Pool;
  connection: Connection;
  client: Client;
  /** A native connection for workers, opened on first use. */
  workerConnection(): Promise<NativeConnection>;
  close(): Promise<void>;
}

type LogLevel = 'WARN' | 'ERROR';

/** What every activity-only (gpu) worker warns at start: by design, not a problem, so it is dropped. */
const NO_WORKFLOWS_WARNING = 'No workflows registered, not polling for workflow tasks';

/** The SDK's default logger without NO_WORKFLOWS_WARNING; every other message passes. */
class CommandLogger extends DefaultLogger {
  override log(level: SdkLogLevel, message: string, meta?: LogMetadata): void {
    if (message !== NO_WORKFLOWS_WARNING) super.log(level, message, meta);
  }
}

let runtimeInstalled = false;
/** Keeps the SDK's own logs to warnings or errors, so a command's output is what it prints itself. */
function quietRuntime(level: LogLevel) {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: new CommandLogger(level),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: level }), forward: {} } },
  });
}

export interface ContextOptions {
  /** The SDK's log level: long-running workers keep its warnings, the demo only its errors. */
  sdkLogLevel?: LogLevel;
  /**
   * True for a command that winds down on shutdownSignal() itself (workers, the demo, `ingest --watch`)
   * and then closes the context. Otherwise the first SIGINT/SIGTERM stops the stack this process started
   * and exits at once, whatever the command is waiting for.
   */
  windsDownOnSignal?: boolean;
}

/**
 * Opens the stack for a command: attaches to what runs, starts what is missing (under a progress line
 * only then), and prints one line per service saying which. A SIGINT/SIGTERM while it starts stops what
 * was started and rejects.
 */
export async function openContext(options: ContextOptions = {}): Promise<Context> {
  quietRuntime(options.sdkLogLevel ?? 'WARN');
  const interrupted = shutdownSignal();
  const config = loadConfig();
  const plan = planStack(config);
  const starting = [plan.startsTemporal && 'Temporal', plan.startsPostgres && 'PostgreSQL'].filter(Boolean).join(' and ');
  // What the stack did goes to stderr: stdout is the command's own output (a report, JSON for --json).
  const say = (line: string) => process.stderr.write(`  ${line}\n`);
  const startedAt = Date.now();
  if (starting) say(`Starting ${starting}…`);
  const stack = await startStack(config, { log: say, signal: interrupted, plan });
  if (starting) say(`Started in ${((Date.now() - startedAt) / 1000).toFixed(1)}s`);
  for (const line of stack.summary) say(line);
  if (!options.windsDownOnSignal) exitOnSignal(() => stack.stop());

  const pool = createPool(stack.databaseUrl);
  let connection: Connection | undefined;
  let native: NativeConnection | undefined;
  let closing: Promise<void> | undefined;
  /** Runs every step even if an earlier one fails, so the stack this process started is always stopped; once. */
  const close = () =>
    (closing ??= runEvery([
      ['worker connection', () => native?.close()],
      ['client connection', () => connection?.close()],
      ['database pool', () => pool.end()],
      ['stack', () => stack.stop()],
    ]));
  try {
    await migrate(pool);
    connection = await Connection.connect({ address: stack.temporalAddress });
    if (config.temporalAddressGiven) await registerSearchAttributes(connection, config.namespace);
    interrupted.throwIfAborted();
  } catch (err) {
    // The first error is the one to report; close() still stops the stack.
    await close().catch(() => {});
    throw err;
  }
  const client = new Client({ connection, namespace: config.namespace });
  return {
    config,
    stack,
    pool,
    connection,
    client,
    async workerConnection() {
      native ??= await NativeConnection.connect({ address: stack.temporalAddress });
      return native;
    },
    close,
  };
}

async function runEvery(steps: [what: string, run: () => Promise<void> | undefined][]): Promise<void> {
  const failures: string[] = [];
  for (const [what, run] of steps) {
    try {
      await run();
    } catch (err) {
      failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (failures.length > 0) throw new Error(`cleanup failed: ${failures.join('; ')}`);
}
