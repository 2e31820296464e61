import { parseArgs } from 'node:util';
import type pg from 'pg';
import { parseDatasetConfig } from '../../lib/data/dataset-config.js';
import { removeDataset } from '../../lib/data/dataset-removal.js';
import { updateDataset } from '../../lib/data/dataset-update.js';
import { getDataset, registerDataset } from '../../lib/data/datasets.js';
import { listQuarantined } from '../../lib/data/quarantine.js';
import { describeSkippedRow, filesWithSkippedRows } from '../../lib/data/skipped-rows.js';
import { openContext } from '../context.js';
import { readSpecFile } from '../spec-file.js';

const USAGE =
  'usage: tide dataset add <config.yaml> | tide dataset update <config.yaml> | tide dataset remove <name> [--force] | ' +
  'tide dataset list [--json] | tide dataset show <name> [--json]';

/**
 * `tide dataset add <config.yaml>` registers a dataset; `tide dataset update <config.yaml>` changes what can
 * safely change (ingest settings; CSV column names before any sample is ingested); `tide dataset remove <name>`
 * deletes a dataset's rows (`--force`: with those of the pipelines on it); `tide dataset list` shows every
 * dataset with its file, sample, skipped-row and quarantined-file counts; `tide dataset show <name>` shows one,
 * with every quarantined file and why, and every file with bad rows skipped (ingest.badRows: skip) and the first. `--json` prints list and show as JSON.
 */
export async function dataset(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { json: { type: 'boolean', default: false }, force: { type: 'boolean', default: false } },
  });
  const [verb, arg, ...extra] = positionals;
  const needsArg = verb === 'add' || verb === 'update' || verb === 'remove' || verb === 'show';
  if (!verb || extra.length > 0 || (needsArg ? !arg : verb !== 'list' || arg)) throw new Error(USAGE);
  if (values.json && verb !== 'list' && verb !== 'show') throw new Error(`--json is for list and show\n${USAGE}`);
  if (values.force && verb !== 'remove') throw new Error(`--force is for remove\n${USAGE}`);
  // Read and validated before the stack is opened, so a bad file fails fast.
  const config = verb === 'add' || verb === 'update' ? parseDatasetConfig(await readSpecFile(arg!)) : undefined;
  const ctx = await openContext();
  try {
    switch (verb) {
      case 'add': {
        const registered = await registerDataset(ctx.pool, config!);
        console.log(`Dataset "${registered.name}" (id ${registered.id}) reads ${registered.format.kind} files under ${registered.root}`);
        return;
      }
      case 'update': {
        const { dataset: updated, changed } = await updateDataset(ctx.pool, config!);
        if (changed.length === 0) console.log(`Dataset "${updated.name}": nothing to change`);
        // A watcher holds the settings it started with.
        else console.log(`Dataset "${updated.name}": changed ${changed.join(', ')} (a running \`tide ingest --watch\` keeps its settings until restarted)`);
        return;
      }
      case 'remove': {
        const removed = await removeDataset(ctx.pool, arg!, { force: values.force });
        const pipelines = removed.pipelines.length === 0 ? '' :
          `, and the rows of pipeline(s) ${removed.pipelines.map((p) => `"${p}"`).join(', ')} (their workflows, if running, were not stopped; model files stay in the store)`;
        console.log(`Removed dataset "${removed.name}": ${removed.files} files, ${removed.samples} samples, ${removed.quarantined} quarantined (its files on disk stay)${pipelines}`);
        return;
      }
      case 'list':
        return await listDatasets(ctx.pool, values.json);
      case 'show':
        return await showDataset(ctx.pool, arg!, values.json);
    }
  } finally {
    await ctx.close();
  }
}

interface DatasetCounts {
  dataset_id: number;
  name: string;
  root: string;
  kind: string;
  files: number;
  samples: number;
  skipped: number;
  quarantined: number;
}

/** Counts per dataset (all of them, or the one named). */
async function datasetCounts(pool: pg.Pool, name?: string): Promise<DatasetCounts[]> {
  const { rows } = await pool.query<DatasetCounts>(
    `SELECT d.dataset_id, d.name, d.root, d.format->>'kind' AS kind,
            (SELECT count(*) FROM files f WHERE f.dataset_id = d.dataset_id)::int AS files,
            (SELECT coalesce(sum(f.num_samples), 0) FROM files f WHERE f.dataset_id = d.dataset_id)::bigint AS samples,
            (SELECT coalesce(sum(f.skipped_rows), 0) FROM files f WHERE f.dataset_id = d.dataset_id)::bigint AS skipped,
            (SELECT count(*) FROM quarantined_files q WHERE q.dataset_id = d.dataset_id)::int AS quarantined
       FROM datasets d WHERE $1::text IS NULL OR d.name = $1 ORDER BY d.dataset_id`,
    [name ?? null],
  );
  return rows;
}

async function listDatasets(pool: pg.Pool, json: boolean): Promise<void> {
  const datasets = await datasetCounts(pool);
  if (json) {
    process.stdout.write(`${JSON.stringify(datasets.map(countsJson), null, 2)}\n`);
    return;
  }
  const lines = datasets.map((r) => `${r.dataset_id}\t${r.name}\t${r.kind}\t${r.files} files\t${r.samples} samples\t${r.skipped} rows skipped\t${r.quarantined} quarantined\t${r.root}`);
  process.stdout.write(lines.length === 0 ? 'no datasets (register one with `tide dataset add`)\n' : `${lines.join('\n')}\n`);
}

async function showDataset(pool: pg.Pool, name: string, json: boolean): Promise<void> {
  const found = await getDataset(pool, name);
  if (!found) throw new Error(`no dataset named "${name}" (see \`tide dataset list\`)`);
  const [counts] = await datasetCounts(pool, name);
  const quarantined = await listQuarantined(pool, found.id);
  const skipped = await filesWithSkippedRows(pool, found.id);
  if (json) {
    const shown = { ...countsJson(counts!), format: found.format, ingest: found.ingest, quarantinedFiles: quarantined, filesWithSkippedRows: skipped };
    process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    return;
  }
  console.log(`Dataset "${found.name}" (id ${found.id}): ${found.format.kind} files under ${found.root}`);
  const rows = found.ingest.badRows === 'skip' ? 'skips bad rows' : 'rejects a file with a bad row';
  console.log(`  ${counts!.files} files, ${counts!.samples} samples; ingest ${found.ingest.strict ? 'strict (all or nothing)' : 'quarantines bad files'}, ${rows}`);
  if (skipped.length > 0) {
    console.log(`  ${counts!.skipped} bad row(s) skipped in ${skipped.length} file(s):`);
    for (const f of skipped) console.log(`    ${f.path}\t${f.count} skipped\t${f.examples.map(describeSkippedRow).join('; ')}`);
  }
  if (quarantined.length === 0) {
    console.log('  no quarantined files');
    return;
  }
  console.log(`  ${quarantined.length} quarantined file(s), tried again once changed:`);
  for (const q of quarantined) console.log(`    ${q.path}\t${q.sizeBytes} bytes\tsince ${q.quarantinedAt.toISOString()}\t${q.reason}`);
}

/** The JSON shape of a dataset's counts, in the names the rest of Tideline's JSON uses. */
function countsJson(r: DatasetCounts) {
  return { id: r.dataset_id, name: r.name, kind: r.kind, root: r.root, files: r.files, samples: Number(r.samples), skipped: Number(r.skipped), quarantined: r.quarantined };
}
