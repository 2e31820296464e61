/**
 * A bulk backfill that dies: `node --import tsx bulk-crash.ts <database url> <dataset> <files…>`
 * starts a bulk ingestion and kills its own process (SIGKILL, no cleanup) right after the second
 * file commits, as a crash of the ingesting host would.
 */
import { getDataset } from '../../lib/data/datasets.js';
import { ingestFiles } from '../../lib/data/ingest.js';
import { createPool } from '../../lib/db/pool.js';

const [url, name, ...files] = process.argv.slice(2);
const pool = createPool(url!);
const dataset = await getDataset(pool, name!);
if (!dataset) throw new Error(`no dataset ${name}`);
let committed = 0;
await ingestFiles(pool, dataset, files, {
  bulk: true,
  onOutcome: () => {
    if (++committed === 2) process.kill(process.pid, 'SIGKILL');
  },
});
