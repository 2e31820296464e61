/**
 * A test file's process that ends before its tests do: `node --import tsx servers-until-signal.ts [crash]` starts a
 * test PostgreSQL and a test Temporal dev server, prints their pids as JSON on one line, and waits for a signal; with
 * `crash`, it throws an uncaught error instead.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startTestPostgres } from './postgres.js';
import { startTestTemporal } from './temporal.js';

const postgres = await startTestPostgres();
const temporal = await startTestTemporal();
const { rows } = await postgres.pool.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir");
const postmaster = Number((await readFile(path.join(rows[0]!.dir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
console.log(JSON.stringify({ postmaster, dataDir: rows[0]!.dir, devServer: temporal.server.pid }));
if (process.argv[2] === 'crash') setTimeout(() => { throw new Error('uncaught, as a test file can fail'); }, 100);
else setInterval(() => {}, 60_000);
