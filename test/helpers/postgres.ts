import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { startEmbeddedPostgres } from '../../lib/db/embedded.js';
import { migrate } from '../../lib/db/migrate.js';
import { createPool } from '../../lib/db/pool.js';

export interface TestPostgres {
  pool: pg.Pool;
  url: string;
  /** Closes the pool, stops the server and removes its temp dir and data. */
  stop(): Promise<void>;
}

/** A migrated throwaway cluster in a fresh temp dir on a free port. Durability is off: tests only. */
export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-pg-'));
  const dataDir = path.join(dir, 'data');
  // As root the data lands outside the mode-700 mkdtemp folder, linked from dataDir: removed where it really is.
  const removeFiles = async () => {
    await rm(await realpath(dataDir).catch(() => dataDir), { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const server = await startEmbeddedPostgres({
      dataDir,
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
    });
    const pool = createPool(server.url);
    try {
      await migrate(pool);
    } catch (e) {
      await pool.end();
      await server.stop();
      throw e;
    }
    return {
      pool,
      url: server.url,
      stop: async () => {
        await pool.end();
        await server.stop();
        await removeFiles();
      },
    };
  } catch (e) {
    await removeFiles();
    throw e;
  }
}
