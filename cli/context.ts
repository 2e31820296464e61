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

let runtimeInstalled = false;
/** Keeps the SDK's own logs at warnings, so a command's output is what it prints itself. */
function quietRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
  });
}

export async function openContext(): Promise<Context> {
  quietRuntime();
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
    async close() {
      await native?.close();
      await connection.close();
      await pool.end();
      await stack.stop();
    },
  };
}
