import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { createPool } from '../lib/db/pool.js';
import { readStackFile } from '../lib/stack/stack-file.js';
import type { Context } from './context.js';

/**
 * Follows the state folder's stack for a long-running command: when the stack restarts, its PostgreSQL and
 * Temporal dev server answer on new ports, which `stack.json` records. `reconnect()` reads it again and moves
 * to a new address with a new pool (or Temporal client); addresses given by DATABASE_URL or TEMPORAL_ADDRESS
 * stay as they are.
 */
export function followStack(ctx: Context) {
  let pool = ctx.pool;
  let databaseUrl = ctx.stack.databaseUrl;
  let client = ctx.client;
  let temporalAddress = ctx.stack.temporalAddress;
  let connection: Connection | undefined;
  return {
    client: () => client,
    async reconnect(): Promise<pg.Pool> {
      const recorded = readStackFile(ctx.config.home);
      const url = ctx.config.databaseUrl ?? recorded?.databaseUrl;
      if (url && url !== databaseUrl) {
        if (pool !== ctx.pool) await pool.end().catch(() => {});
        pool = createPool(url);
        databaseUrl = url;
        console.error(`  PostgreSQL of ${ctx.config.home} now answers at ${new URL(url).host}; using it`);
      }
      const address = ctx.config.temporalAddressGiven ? undefined : recorded?.temporalAddress;
      if (address && address !== temporalAddress) {
        try {
          const next = await Connection.connect({ address });
          await connection?.close().catch(() => {});
          connection = next;
          temporalAddress = address;
          client = new Client({ connection, namespace: ctx.config.namespace });
          console.error(`  Temporal of ${ctx.config.home} now answers at ${address}; using it`);
        } catch (e) {
          // Pipelines are signalled again with the next batches; the pool above is good either way.
          console.error(`  Temporal at ${address} does not answer yet: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      return pool;
    },
    /** Closes what reconnect() opened; the context closes its own pool and client. */
    async close(): Promise<void> {
      if (pool !== ctx.pool) await pool.end();
      await connection?.close();
    },
  };
}
