import { realpath, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Deletes a benchmark's temp folder and its embedded PostgreSQL's data in `<dir>/pg`, where that data really is: as
 * root it lives outside the folder, linked from it (lib/db/postgres-data-dir.ts), and deleting the folder alone
 * would leave it behind.
 */
export async function removeBenchDir(dir: string): Promise<void> {
  const data = path.join(dir, 'pg');
  await rm(await realpath(data).catch(() => data), { recursive: true, force: true, maxRetries: 5 });
  await rm(dir, { recursive: true, force: true, maxRetries: 5 });
}
