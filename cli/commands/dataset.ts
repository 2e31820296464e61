import { parseDatasetConfig } from '../../lib/data/dataset-config.js';
import { registerDataset } from '../../lib/data/datasets.js';
import { openContext } from '../context.js';
import { readSpecFile } from '../spec-file.js';

/** `tide dataset add <config.yaml>` registers a dataset; `tide dataset list` shows them. */
export async function dataset(args: string[]): Promise<void> {
  const [verb, file] = args;
  if (verb === 'add' && file) {
    const config = parseDatasetConfig(await readSpecFile(file));
    const ctx = await openContext();
    try {
      const registered = await registerDataset(ctx.pool, config);
      console.log(`Dataset "${registered.name}" (id ${registered.id}) reads ${registered.format.kind} files under ${registered.root}`);
    } finally {
      await ctx.close();
    }
    return;
  }
  if (verb === 'list') {
    const ctx = await openContext();
    try {
      const { rows } = await ctx.pool.query(
        `SELECT d.dataset_id, d.name, d.root, d.format->>'kind' AS kind, count(f.file_id)::int AS files,
                coalesce(sum(f.num_samples), 0)::bigint AS samples
           FROM datasets d LEFT JOIN files f USING (dataset_id) GROUP BY d.dataset_id ORDER BY d.dataset_id`,
      );
      for (const r of rows) console.log(`${r.dataset_id}\t${r.name}\t${r.kind}\t${r.files} files\t${r.samples} samples\t${r.root}`);
    } finally {
      await ctx.close();
    }
    return;
  }
  throw new Error('usage: tide dataset add <config.yaml> | tide dataset list');
}
