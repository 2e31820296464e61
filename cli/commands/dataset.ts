import type pg from 'pg';
import { parseDatasetConfig } from '../../lib/data/dataset-config.js';
import { getDataset, registerDataset } from '../../lib/data/datasets.js';
import { listQuarantined } from '../../lib/data/quarantine.js';
import { openContext } from '../context.js';
import { readSpecFile } from '../spec-file.js';

const USAGE = 'usage: tide dataset add <config.yaml> | tide dataset list | tide dataset show <name>';

/**
 * `tide dataset add <config.yaml>` registers a dataset; `tide dataset list` shows them with their file, sample and
 * quarantined-file counts; `tide dataset show <name>` shows one, with every quarantined file and why.
 */
export async function dataset(args: string[]): Promise<void> {
  const [verb, arg] = args;
  if (verb === 'add' && arg) {
    const config = parseDatasetConfig(await readSpecFile(arg));
    const ctx = await openContext();
    try {
      const registered = await registerDataset(ctx.pool, config);
      console.log(`Dataset "${registered.name}" (id ${registered.id}) reads ${registered.format.kind} files under ${registered.root}`);
    } finally {
      await ctx.close();
    }
    return;
  }
  if (verb === 'list' || (verb === 'show' && arg)) {
    const ctx = await openContext();
    try {
      if (verb === 'list') await listDatasets(ctx.pool);
      else await showDataset(ctx.pool, arg!);
    } finally {
      await ctx.close();
    }
    return;
  }
  throw new Error(USAGE);
}

interface DatasetCounts {
  dataset_id: number;
  name: string;
  root: string;
  kind: string;
  files: number;
  samples: number;
  quarantined: number;
}

/** Counts per dataset (all of them, or the one named). */
async function datasetCounts(pool: pg.Pool, name?: string): Promise<DatasetCounts[]> {
  const { rows } = await pool.query<DatasetCounts>(
    `SELECT d.dataset_id, d.name, d.root, d.format->>'kind' AS kind,
            (SELECT count(*) FROM files f WHERE f.dataset_id = d.dataset_id)::int AS files,
            (SELECT coalesce(sum(f.num_samples), 0) FROM files f WHERE f.dataset_id = d.dataset_id)::bigint AS samples,
            (SELECT count(*) FROM quarantined_files q WHERE q.dataset_id = d.dataset_id)::int AS quarantined
       FROM datasets d WHERE $1::text IS NULL OR d.name = $1 ORDER BY d.dataset_id`,
    [name ?? null],
  );
  return rows;
}

async function listDatasets(pool: pg.Pool): Promise<void> {
  for (const r of await datasetCounts(pool)) {
    console.log(`${r.dataset_id}\t${r.name}\t${r.kind}\t${r.files} files\t${r.samples} samples\t${r.quarantined} quarantined\t${r.root}`);
  }
}

async function showDataset(pool: pg.Pool, name: string): Promise<void> {
  const found = await getDataset(pool, name);
  if (!found) throw new Error(`no dataset named "${name}" (see \`tide dataset list\`)`);
  const [counts] = await datasetCounts(pool, name);
  console.log(`Dataset "${found.name}" (id ${found.id}): ${found.format.kind} files under ${found.root}`);
  console.log(`  ${counts!.files} files, ${counts!.samples} samples; ingest ${found.ingest.strict ? 'strict (all or nothing)' : 'quarantines bad files'}`);
  const quarantined = await listQuarantined(pool, found.id);
  if (quarantined.length === 0) {
    console.log('  no quarantined files');
    return;
  }
  console.log(`  ${quarantined.length} quarantined file(s), tried again once changed:`);
  for (const q of quarantined) console.log(`    ${q.path}\t${q.sizeBytes} bytes\tsince ${q.quarantinedAt.toISOString()}\t${q.reason}`);
}
