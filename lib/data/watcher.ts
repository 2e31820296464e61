import { stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { BatchDescriptor } from '../../policies/batches.js';
import type { Dataset } from './datasets.js';
import { findNewFiles, ingestFiles, type IngestOutcome } from './ingest.js';

/**
 * Polls the dataset root every intervalMs and ingests new files in path order through ingestFiles
 * (up to `parallel` files scanned at once; one unreadable file does not hold back the others). After a poll's files are
 * committed it calls onBatches with their descriptors; delivery is at most once, so a consumer that
 * must not miss data catches up with listBatches. A rejected file is reported once and retried only
 * after its size or mtime changes (a writer finished it). Never throws: errors go to onError and
 * the next poll tries again. Resolves once `signal` aborts.
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
  // Rejected path → the version (size, mtime) that was rejected.
  const rejected = new Map<string, string>();
  const version = async (file: string) => {
    const info = await stat(path.join(dataset.root, file));
    return `${info.size}:${info.mtimeMs}`;
  };

  while (!signal.aborted) {
    const batches: BatchDescriptor[] = [];
    try {
      // Versions are taken before reading, so a file that changes while being ingested is retried next poll.
      const versions = new Map<string, string>();
      for (const file of await findNewFiles(pool, dataset)) {
        try {
          const before = await version(file);
          if (rejected.get(file) !== before) versions.set(file, before);
        } catch (e) {
          report(e);
        }
      }
      await ingestFiles(pool, dataset, [...versions.keys()], {
        parallel: opts.parallel,
        signal,
        onOutcome: (outcome) => {
          if (outcome.status === 'ingested') {
            batches.push(outcome.batch);
            rejected.delete(outcome.path);
          }
          if (outcome.status === 'rejected') {
            rejected.set(outcome.path, versions.get(outcome.path)!);
            opts.onRejected?.(outcome);
          }
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
