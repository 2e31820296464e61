import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, makeTelemetryFilterString, DefaultLogger } from '@temporalio/worker';
import type pg from 'pg';
import { loadConfig, type TidelineConfig } from '../lib/config.js';
import { migrate } from '../lib/db/migrate.js';
import { createPool } from '../lib/db/pool.js';
import { startStack, type Stack } from '../lib/stack/stack.js';
import { registerSearchAttributes } from '../workers/search-attributes.js';
import { step } from './progress.js';

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

let runtimeInstalled = false;
/** Keeps the SDK's own logs to warnings or errors, so a command's output is what it prints itself. */
function quietRuntime(level: LogLevel) {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: new DefaultLogger(level),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: level }), forward: {} } },
  });
}

/** Opens the stack for a command; long-running workers keep the SDK's warnings, the demo only its errors. */
export async function openContext(sdkLogLevel: LogLevel = 'WARN'): Promise<Context> {
  quietRuntime(sdkLogLevel);
  const config = loadConfig();
  const stack = await step('Starting Temporal and PostgreSQL', () => startStack(config, (line) => console.log(`  ${line}`)));
  const pool = createPool(stack.databaseUrl);
  await migrate(pool);
  const connection = await Connection.connect({ address: stack.temporalAddress });
  if (config.temporalAddressGiven) await registerSearchAttributes(connection, config.namespace);
  const client = new Client({ connection, namespace: config.namespace });
  let native: NativeConnection | undefined;
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
    /** Runs every step even if an earlier one fails, so the stack this process started is always stopped. */
    async close() {
      const failures: string[] = [];
      for (const [what, run] of [
        ['worker connection', () => native?.close()],
        ['client connection', () => connection.close()],
        ['database pool', () => pool.end()],
        ['stack', () => stack.stop()],
      ] as const) {
        try {
          await run();
        } catch (err) {
          failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (failures.length > 0) throw new Error(`cleanup failed: ${failures.join('; ')}`);
    },
  };
}
