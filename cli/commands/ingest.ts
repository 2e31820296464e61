import { stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { BatchDescriptor } from '../../policies/batches.js';
import { getDataset, type Dataset } from '../../lib/data/datasets.js';
import { findNewFiles, ingestFiles, type IngestOutcome } from '../../lib/data/ingest.js';
import { describeSkippedRow } from '../../lib/data/skipped-rows.js';
import { watchDataset } from '../../lib/data/watcher.js';
import { openContext } from '../context.js';
import { notifyPipelines } from '../notify.js';
import { progress } from '../progress.js';
import { shutdownSignal } from '../signals.js';
import { followStack } from '../stack-follower.js';

const USAGE = 'usage: tide ingest <dataset> [files…] [--parallel N] [--bulk] | tide ingest <dataset> --watch [--interval seconds] [--parallel N]';

/**
 * `tide ingest <dataset> [files…]` registers the given files (or every new file under the dataset's
 * root), then signals the dataset's running pipelines. Files that cannot be decoded are quarantined
 * (`tide dataset show`), files that cannot be read are left for the next ingest; both are listed at the
 * end and make the exit code non-zero, and the other files are still ingested (with the dataset's
 * ingest.strict, the first bad file fails the whole call and nothing is committed). `--parallel N`
 * scans N files at once (default: the dataset config's ingest.parallel, else 1); `--bulk` loads a
 * backlog first and builds the samples index afterwards (the dataset's samples are not readable
 * meanwhile).
 * `tide ingest <dataset> --watch [--interval seconds]` keeps polling the root for new files (default
 * interval: the dataset config's ingest.pollSeconds, else 2); when the database stops answering it follows the
 * state folder's restarted stack (stack.json), and exits non-zero after a bounded number of failed polls.
 * Samples older than the dataset's latest timestamp are ingested as new data, with a warning per file; so is
 * each file with bad rows skipped (the dataset's ingest.badRows: skip), with their count and the first few.
 */
export async function ingest(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      watch: { type: 'boolean', default: false },
      interval: { type: 'string' },
      parallel: { type: 'string' },
      bulk: { type: 'boolean', default: false },
    },
  });
  const [name, ...files] = positionals;
  if (!name) throw new Error(USAGE);
  if (values.watch && values.bulk) throw new Error('--bulk is for backfills and does not combine with --watch');
  const parallelFlag = values.parallel === undefined ? undefined : Number(values.parallel);
  if (parallelFlag !== undefined && !(Number.isInteger(parallelFlag) && parallelFlag >= 1)) {
    throw new Error(`--parallel: "${values.parallel}" is not a positive integer`);
  }
  const ctx = await openContext({ windsDownOnSignal: values.watch });
  try {
    const dataset = await getDataset(ctx.pool, name);
    if (!dataset) throw new Error(`no dataset named "${name}" (register it with \`tide dataset add\`)`);
    const parallel = parallelFlag ?? dataset.ingest.parallel ?? 1;
    const rejected: IngestOutcome[] = [];
    const report = (o: IngestOutcome) => {
      if (o.status === 'rejected') {
        rejected.push(o);
        console.error(`  quarantined ${o.error.message}`);
      }
    };
    // A file that cannot be read (or is not in the root) is named and left out; the others go on.
    const failed: string[] = [];
    const reportFailure = (file: string, err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      failed.push(message.includes(file) ? message : `${file}: ${message}`);
      console.error(`  not ingested: ${failed.at(-1)}`);
    };

    if (values.watch) {
      const seconds = values.interval === undefined ? (dataset.ingest.pollSeconds ?? 2) : Number(values.interval);
      if (!(seconds > 0)) throw new Error(`--interval: "${values.interval}" is not a positive number of seconds`);
      console.log(`Watching ${dataset.root} every ${seconds}s (Ctrl-C to stop)`);
      const stack = followStack(ctx);
      try {
        await watchDataset(ctx.pool, dataset, {
          intervalMs: seconds * 1000,
          parallel,
          signal: shutdownSignal(),
          onBatches: async (batches) => {
            const notified = await notifyPipelines(stack.client(), dataset, batches);
            const samples = batches.reduce((n, b) => n + b.count, 0);
            console.log(`  ingested ${batches.length} file(s), ${samples} samples; signalled ${notified} pipeline(s)`);
          },
          onIngested: (o) => {
            warnBackdated(o);
            warnSkipped(o);
          },
          onRejected: report,
          onError: (err) => console.error(`  ${err instanceof Error ? err.message : String(err)}`),
          reconnect: stack.reconnect,
        });
      } finally {
        await stack.close();
      }
    } else {
      const paths = files.length > 0 ? files : await findNewFiles(ctx.pool, dataset);
      const expectedRows = await expectedRowCount(dataset, paths);
      const bar = progress(`Ingesting ${paths.length} file(s) into ${name}${values.bulk ? ' (bulk)' : ''}`, paths.length);
      const batches: BatchDescriptor[] = [];
      const started = performance.now();
      let done = 0;
      let rows = 0;
      let duplicates = 0;
      const rate = () => Math.round(rows / Math.max(1e-3, (performance.now() - started) / 1000));
      await ingestFiles(ctx.pool, dataset, paths, {
        parallel,
        bulk: values.bulk,
        onOutcome: (o) => {
          if (o.status === 'ingested') {
            batches.push(o.batch);
            rows += o.batch.count;
            warnBackdated(o);
            warnSkipped(o);
          }
          if (o.status === 'duplicate') duplicates++;
          bar.update(++done, `${rows}${expectedRows === undefined ? '' : `/${expectedRows}`} rows, ${rate()} rows/s`);
          report(o);
        },
        onError: (file, err) => {
          bar.update(++done, `${rows} rows`);
          reportFailure(file, err);
        },
      });
      bar.finish(`${rows} rows, ${rate()} rows/s`);
      const notified = await notifyPipelines(ctx.client, dataset, batches);
      const samples = batches.reduce((n, b) => n + b.count, 0);
      console.log(
        `Ingested ${batches.length} file(s) (${samples} samples), ${duplicates} already known, ${rejected.length} quarantined, ${failed.length} failed; signalled ${notified} pipeline(s).`,
      );
    }
    if (rejected.length > 0) {
      console.error(`\n${rejected.length} file(s) quarantined (tried again once changed; \`tide dataset show ${name}\` lists them):`);
      for (const o of rejected) if (o.status === 'rejected') console.error(`  ${o.error.message}`);
    }
    if (failed.length > 0) {
      console.error(`\n${failed.length} file(s) not ingested (not quarantined: the next ingest tries them again):`);
      for (const message of failed) console.error(`  ${message}`);
    }
    if (rejected.length > 0 || failed.length > 0) process.exitCode = 1;
  } finally {
    await ctx.close();
  }
}

/** Backdated samples are ingested as new data (ingestion order is the stream), but a user should know. */
function warnBackdated(o: Extract<IngestOutcome, { status: 'ingested' }>): void {
  const b = o.backdated;
  if (!b) return;
  const range = b.minTs === b.maxTs ? `${b.minTs}` : `${b.minTs}..${b.maxTs}`;
  console.error(
    `  warning: ${o.path}: ${b.count} sample(s) with timestamps ${range}, older than the dataset's latest ${b.latestTs}; ` +
      'keyed after the data ingested before them (ingestion order is the stream)',
  );
}

/** Skipped rows are not ingested (they get no key), so a user should know how many and why. */
function warnSkipped(o: Extract<IngestOutcome, { status: 'ingested' }>): void {
  const s = o.skipped;
  if (!s) return;
  const more = s.count > s.examples.length ? '; …' : '';
  console.error(`  warning: ${o.path}: skipped ${s.count} bad row(s): ${s.examples.map(describeSkippedRow).join('; ')}${more}`);
}

/** Rows the files will give at most, known up front for fixed-size binary records only. */
async function expectedRowCount(dataset: Dataset, paths: string[]): Promise<number | undefined> {
  const { format } = dataset;
  if (format.kind !== 'binary') return undefined;
  let rows = 0;
  for (const file of paths) {
    const info = await stat(path.resolve(dataset.root, file)).catch(() => undefined);
    if (info) rows += Math.floor(info.size / format.recordSize);
  }
  return rows;
}
