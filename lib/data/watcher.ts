import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { BatchDescriptor } from '../../policies/batches.js';
import type { Dataset } from './datasets.js';
import { findNewFiles, ingestFiles, type IngestOutcome } from './ingest.js';

/**
 * Polls the dataset root every intervalMs and ingests new files in path order through ingestFiles
 * (up to `parallel` files scanned at once; one unreadable file does not hold back the others). After a poll's files are
 * committed it calls onBatches with their descriptors; delivery is at most once, so a consumer that
 * must not miss data catches up with listBatches. A rejected file is quarantined, so it is reported once
 * and retried only after its size or mtime changes (a writer finished it). Never throws: errors go to
 * onError and the next poll tries again (with `ingest.strict`, the whole poll's files). Resolves once
 * `signal` aborts.
 */
export async function watchDataset(
  pool: pg.Pool,
  dataset: Dataset,
  opts: {
    intervalMs: number;
    parallel?: number;
    signal: AbortSignal;
    onBatches: (b: BatchDescriptor[]) => Promise<void> | void;
    onRejected?: (o: IngestOutcome) => void;
    onError?: (e: unknown) => void;
  },
): Promise<void> {
  const { signal } = opts;
  const report = (e: unknown) => {
    try {
      opts.onError?.(e);
    } catch {
      // A failing error handler must not end the watch either.
    }
  };

  while (!signal.aborted) {
    const batches: BatchDescriptor[] = [];
    try {
      await ingestFiles(pool, dataset, await findNewFiles(pool, dataset), {
        parallel: opts.parallel,
        signal,
        onOutcome: (outcome) => {
          if (outcome.status === 'ingested') batches.push(outcome.batch);
          if (outcome.status === 'rejected') opts.onRejected?.(outcome);
        },
        onError: (_file, e) => report(e),
      });
    } catch (e) {
      report(e);
    }
    try {
      if (batches.length > 0) await opts.onBatches(batches);
    } catch (e) {
      report(e);
    }
    await sleep(opts.intervalMs, undefined, { signal }).catch(() => {});
  }
}
