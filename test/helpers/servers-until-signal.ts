/**
 * A test file's process that a signal ends: `node --import tsx servers-until-signal.ts` starts a test PostgreSQL
 * and a test Temporal dev server, prints their pids as JSON on one line, and waits.
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
setInterval(() => {}, 60_000);
