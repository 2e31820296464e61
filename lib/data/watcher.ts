import { stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { BatchDescriptor } from '../../policies/batches.js';
import type { Dataset } from './datasets.js';
import { findNewFiles, ingestFile, type IngestOutcome } from './ingest.js';

/**
 * Polls the dataset root every intervalMs and ingests new files in path order (as ingestFiles does,
 * but file by file so one unreadable file does not hold back the others). After a poll's files are
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
      for (const file of await findNewFiles(pool, dataset)) {
        if (signal.aborted) break;
        try {
          // Taken before reading, so a file that changes while being ingested is retried next poll.
          const before = await version(file);
          if (rejected.get(file) === before) continue;
          const outcome = await ingestFile(pool, dataset, file);
          if (outcome.status === 'ingested') {
            batches.push(outcome.batch);
            rejected.delete(file);
          }
          if (outcome.status === 'rejected') {
            rejected.set(file, before);
            opts.onRejected?.(outcome);
          }
        } catch (e) {
          report(e);
        }
      }
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
