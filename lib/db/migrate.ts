import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
const MIGRATION_FILE = /^\d{3}_[\w-]+\.sql$/;
/** Arbitrary constant identifying the migration lock among advisory locks. */
const MIGRATION_LOCK = 7_415_523_001;

/**
 * Applies the migrations in lib/db/migrations not yet recorded in schema_migrations, in name order,
 * each in its own transaction. A session advisory lock serializes concurrent workers: the second
 * one waits, then finds everything applied. Returns the names applied by this call.
 */
export async function migrate(pool: pg.Pool): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => MIGRATION_FILE.test(f)).sort();
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
    const applied: string[] = [];
    for (const name of files.filter((f) => !done.has(f))) {
      const sql = await readFile(MIGRATIONS_DIR + name, 'utf8');
      try {
        await client.query('BEGIN');
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${name} failed: ${(e as Error).message}`, { cause: e });
      }
      applied.push(name);
    }
    return applied;
  } finally {
    // A client whose unlock failed is discarded, which ends its session and so its lock.
    const unlocked = await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).then(() => true, () => false);
    client.release(!unlocked);
  }
}
