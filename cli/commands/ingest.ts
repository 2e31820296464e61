import { parseArgs } from 'node:util';
import type { BatchDescriptor } from '../../policies/batches.js';
import { getDataset } from '../../lib/data/datasets.js';
import { findNewFiles, ingestFiles, type IngestOutcome } from '../../lib/data/ingest.js';
import { watchDataset } from '../../lib/data/watcher.js';
import { openContext } from '../context.js';
import { notifyPipelines } from '../notify.js';
import { progress } from '../progress.js';
import { shutdownSignal } from '../signals.js';

/**
 * `tide ingest <dataset> [files…]` registers the given files (or every new file under the dataset's
 * root), then signals the dataset's running pipelines. Rejected files are listed at the end and make
 * the exit code non-zero; the other files are still ingested.
 * `tide ingest <dataset> --watch [--interval 2s]` keeps polling the root for new files.
 */
export async function ingest(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { watch: { type: 'boolean', default: false }, interval: { type: 'string', default: '2' } },
  });
  const [name, ...files] = positionals;
  if (!name) throw new Error('usage: tide ingest <dataset> [files…] [--watch [--interval seconds]]');
  const ctx = await openContext();
  try {
    const dataset = await getDataset(ctx.pool, name);
    if (!dataset) throw new Error(`no dataset named "${name}" (register it with \`tide dataset add\`)`);
    const rejected: IngestOutcome[] = [];
    const report = (o: IngestOutcome) => {
      if (o.status === 'rejected') {
        rejected.push(o);
        console.error(`  rejected ${o.error.message}`);
      }
    };

    if (values.watch) {
      const seconds = Number(values.interval);
      if (!(seconds > 0)) throw new Error(`--interval: "${values.interval}" is not a positive number of seconds`);
      console.log(`Watching ${dataset.root} every ${seconds}s (Ctrl-C to stop)`);
      await watchDataset(ctx.pool, dataset, {
        intervalMs: seconds * 1000,
        signal: shutdownSignal(),
        onBatches: async (batches) => {
          const notified = await notifyPipelines(ctx.client, dataset, batches);
          const samples = batches.reduce((n, b) => n + b.count, 0);
          console.log(`  ingested ${batches.length} file(s), ${samples} samples; signalled ${notified} pipeline(s)`);
        },
        onRejected: report,
        onError: (err) => console.error(`  ${err instanceof Error ? err.message : String(err)}`),
      });
    } else {
      const paths = files.length > 0 ? files : await findNewFiles(ctx.pool, dataset);
      const bar = progress(`Ingesting ${paths.length} file(s) into ${name}`, paths.length);
      const batches: BatchDescriptor[] = [];
      let done = 0;
      let duplicates = 0;
      await ingestFiles(ctx.pool, dataset, paths, {
        onOutcome: (o) => {
          bar.update(++done);
          if (o.status === 'ingested') batches.push(o.batch);
          if (o.status === 'duplicate') duplicates++;
          report(o);
        },
      });
      bar.finish();
      const notified = await notifyPipelines(ctx.client, dataset, batches);
      const samples = batches.reduce((n, b) => n + b.count, 0);
      console.log(`Ingested ${batches.length} file(s) (${samples} samples), ${duplicates} already known, ${rejected.length} rejected; signalled ${notified} pipeline(s).`);
    }
    if (rejected.length > 0) {
      console.error(`\n${rejected.length} file(s) rejected:`);
      for (const o of rejected) if (o.status === 'rejected') console.error(`  ${o.error.message}`);
      process.exitCode = 1;
    }
  } finally {
    await ctx.close();
  }
}
