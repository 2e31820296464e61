import path from 'node:path';
import type pg from 'pg';
import { inTransaction } from '../db/transaction.js';
import { DEFAULT_HOLDOUT, parseDatasetConfig, type DatasetFormat, type IngestSettings } from './dataset-config.js';
import { checkRoot, DEFAULT_HASH_PARTITIONS, type Dataset } from './datasets.js';
import { DataError } from './errors.js';
import { checkCsvColumns } from './formats/csv-columns.js';

export interface DatasetUpdate {
  dataset: Dataset;
  /** Fields whose value changed, e.g. `ingest.parallel`, `format.labelColumn`; empty when none did. */
  changed: string[];
}

/** CSV fields that only say where a value is: they may change while no sample was read through them. */
const CSV_COLUMN_FIELDS = new Set(['labelColumn', 'featureColumns', 'timestampColumn']);

/**
 * Applies a registered dataset's config again, changing only what is safe: the ingest settings, and a CSV
 * format's column fields while no sample is ingested (checked against the root's first CSV file). Anything
 * else (root, hashPartitions, any other format field) is refused, naming each field and why; nothing is
 * changed then. The dataset row lock keeps an ingest from starting midway.
 */
export async function updateDataset(pool: pg.Pool, input: unknown): Promise<DatasetUpdate> {
  const config = parseDatasetConfig(input);
  const { name, format, hashPartitions = DEFAULT_HASH_PARTITIONS, ingest = {}, holdout = DEFAULT_HOLDOUT } = config;
  const root = path.resolve(config.root);
  return inTransaction(pool, async (client) => {
    const { rows: [stored] } = await client.query<Dataset & { hashPartitions: number; nextKey: string }>(
      `SELECT dataset_id AS id, name, root, format, ingest, holdout, hash_partitions AS "hashPartitions", next_key AS "nextKey"
         FROM datasets WHERE name = $1 FOR UPDATE`,
      [name],
    );
    if (!stored) throw new DataError(`no dataset named "${name}" (register it with \`tide dataset add\`)`);
    const samples = Number(stored.nextKey) - 1;
    const refused: string[] = [];
    if (stored.root !== root) refused.push(`root: cannot change (${stored.root} → ${root}): ingested files are stored relative to it`);
    if (stored.hashPartitions !== hashPartitions) {
      refused.push(`hashPartitions: cannot change (${stored.hashPartitions} → ${hashPartitions}): the samples partition was laid out with it`);
    }
    if (stored.holdout.fraction !== holdout.fraction || stored.holdout.seed !== holdout.seed) {
      refused.push(`holdout: cannot change (${show(stored.holdout)} → ${show(holdout)}): pipelines over the dataset were evaluated on its held-out samples`);
    }
    const changed: string[] = [];
    for (const key of changedKeys(stored.format, format)) {
      const field = `format.${key}`;
      const values = `(${show(fieldOf(stored.format, key))} → ${show(fieldOf(format, key))})`;
      if (stored.format.kind === 'csv' && format.kind === 'csv' && CSV_COLUMN_FIELDS.has(key)) {
        if (samples === 0) changed.push(field);
        else refused.push(`${field}: cannot change ${values} once samples are ingested: ${samples} were read from the old column(s)`);
      } else {
        refused.push(`${field}: cannot change ${values}: ingested files are read back with it (register a new dataset instead)`);
      }
    }
    if (refused.length > 0) throw new DataError(`dataset "${name}": ${refused.join('; ')}`);
    if (changed.length > 0 && format.kind === 'csv') {
      await checkRoot(name, root);
      await checkCsvColumns(name, root, format);
    }
    changed.push(...changedKeys(stored.ingest, ingest).map((key) => `ingest.${key}`));
    if (changed.length > 0) {
      await client.query('UPDATE datasets SET format = $2, ingest = $3 WHERE dataset_id = $1', [stored.id, JSON.stringify(format), JSON.stringify(ingest)]);
    }
    return { dataset: { id: stored.id, name, root, format: changed.length > 0 ? format : stored.format, ingest, holdout: stored.holdout }, changed };
  });
}

/** Top-level keys whose values differ (a missing key and an undefined value are the same). */
function changedKeys(before: DatasetFormat | IngestSettings, after: DatasetFormat | IngestSettings): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((key) => canonical(fieldOf(before, key)) !== canonical(fieldOf(after, key))).sort();
}

function fieldOf(object: DatasetFormat | IngestSettings, key: string): unknown {
  return (object as Record<string, unknown>)[key];
}

/** JSON with object keys sorted: jsonb hands keys back in its own order. */
function canonical(value: unknown): string {
  if (value === undefined) return 'undefined';
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

function show(value: unknown): string {
  return value === undefined ? 'absent' : JSON.stringify(value);
}
