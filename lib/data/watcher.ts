import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { BatchDescriptor } from '../../policies/batches.js';
import type { Dataset } from './datasets.js';
import { DataError } from './errors.js';
import { findNewFiles, ingestFiles, type IngestOutcome } from './ingest.js';

/** Polls in a row that may fail to reach the database before the watch gives up. */
const DEFAULT_UNREACHABLE_POLLS = 30;

/** Error codes of a database that does not answer (node's socket errors, PostgreSQL's class 08 and shutdowns). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', '57P01', '57P02', '57P03']);

export interface WatchOptions {
  intervalMs: number;
  parallel?: number;
  signal: AbortSignal;
  onBatches: (b: BatchDescriptor[]) => Promise<void> | void;
  /** Each ingested file's outcome (for its backdated samples), in path order. */
  onIngested?: (o: Extract<IngestOutcome, { status: 'ingested' }>) => void;
  onRejected?: (o: IngestOutcome) => void;
  onError?: (e: unknown) => void;
  /**
   * Called after a poll that could not reach the database; resolves to the pool for the next polls (a new one
   * when the database moved, e.g. a restarted stack on another port). Absent: the same pool is tried again.
   */
  reconnect?: () => Promise<pg.Pool>;
  /** Polls in a row that may fail to reach the database before the watch rejects (default 30). */
  maxUnreachablePolls?: number;
}

/**
 * Polls the dataset root every intervalMs and ingests new files in path order through ingestFiles
 * (up to `parallel` files scanned at once; one unreadable file does not hold back the others). After a poll's files are
 * committed it calls onBatches with their descriptors; delivery is at most once, so a consumer that
 * must not miss data catches up with listBatches. A rejected file is quarantined, so it is reported once
 * and retried only after its size or mtime changes (a writer finished it). Errors go to onError and the
 * next poll tries again (with `ingest.strict`, the whole poll's files); a database that cannot be reached
 * is asked for again through `reconnect`, and after maxUnreachablePolls such polls in a row the watch rejects
 * with a DataError naming the last error, rather than polling a dead address forever. Resolves once `signal`
 * aborts.
 */
export async function watchDataset(pool: pg.Pool, dataset: Dataset, opts: WatchOptions): Promise<void> {
  const { signal } = opts;
  const maxUnreachable = opts.maxUnreachablePolls ?? DEFAULT_UNREACHABLE_POLLS;
  let unreachablePolls = 0;
  let unreachable: unknown;
  const report = (e: unknown) => {
    if (isUnreachable(e)) unreachable = e;
    try {
      opts.onError?.(e);
    } catch {
      // A failing error handler must not end the watch either.
    }
  };

  while (!signal.aborted) {
    const batches: BatchDescriptor[] = [];
    unreachable = undefined;
    try {
      await ingestFiles(pool, dataset, await findNewFiles(pool, dataset), {
        parallel: opts.parallel,
        signal,
        onOutcome: (outcome) => {
          if (outcome.status === 'ingested') {
            batches.push(outcome.batch);
            opts.onIngested?.(outcome);
          }
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
    if (unreachable === undefined) {
      unreachablePolls = 0;
    } else if (++unreachablePolls >= maxUnreachable) {
      const reason = unreachable instanceof Error ? unreachable.message : String(unreachable);
      throw new DataError(`watching dataset "${dataset.name}": the database could not be reached in ${unreachablePolls} polls in a row (last: ${reason})`, {
        cause: unreachable,
      });
    } else if (opts.reconnect) {
      pool = await opts.reconnect().catch((e: unknown) => (report(e), pool));
    }
    await sleep(opts.intervalMs, undefined, { signal }).catch(() => {});
  }
}

/** Whether an error says the database does not answer (as opposed to a bad file or query). */
function isUnreachable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== undefined && (UNREACHABLE.has(code) || code.startsWith('08'))) return true;
  if (/^Connection terminated/.test(e.message)) return true;
  // A pool failing to connect may wrap the socket error (AggregateError for several addresses).
  if (e instanceof AggregateError) return e.errors.some(isUnreachable);
  return e.cause !== undefined && isUnreachable(e.cause);
}
