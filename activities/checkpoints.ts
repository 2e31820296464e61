import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelStore } from '../lib/models/store.js';
import { readModelState, type ModelState } from '../lib/train/model-state.js';

/** A saved training position: the state file (store-relative) and how far into the training set it is. */
export interface Checkpoint {
  path: string;
  stepsDone: number;
  samplesDone: number;
  elapsedMs: number;
  /** Scoring time of model-based downsampling up to here (absent: none). */
  scoringMs?: number;
  /** Loss of the trigger's first step, the reference for divergence (absent in checkpoints of earlier versions). */
  firstLoss?: number;
}

const CHECKPOINT_FILE = /^ckpt-(\d+)\.state$/;

export function checkpointPath(runDir: string, stepsDone: number): string {
  return join(runDir, `ckpt-${stepsDone}.state`);
}

/** What a checkpoint file records of its position (in the state file's `extra`), so a resume can find it without a heartbeat. */
export function checkpointExtra({ stepsDone, samplesDone, elapsedMs, scoringMs, firstLoss }: Checkpoint): Record<string, unknown> {
  return { checkpoint: { stepsDone, samplesDone, elapsedMs, ...(scoringMs !== undefined && { scoringMs }), ...(firstLoss !== undefined && { firstLoss }) } };
}

/** Checkpoint files of a run folder, newest first, as store-relative paths. */
export async function listCheckpoints(store: ModelStore, runDir: string): Promise<{ path: string; stepsDone: number }[]> {
  const names = await readdir(store.resolve(runDir)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return names
    .flatMap((name) => {
      const match = CHECKPOINT_FILE.exec(name);
      return match ? [{ path: join(runDir, name), stepsDone: Number(match[1]) }] : [];
    })
    .sort((a, b) => b.stepsDone - a.stepsDone);
}

/**
 * Where an attempt resumes: the checkpoint its last heartbeat named; if that file is gone (deleted after a newer one
 * was written, see CheckpointRetention) or unreadable, or no heartbeat named one (heartbeats reach the server only
 * every few seconds, so a worker killed right after a checkpoint may have sent none naming it), the newest
 * checkpoint of the run folder that reads and passes `check`; else undefined, a fresh start. Every checkpoint passed
 * over is reported to `warn`. Any checkpoint of the run is as good as the named one: training is deterministic, so
 * each holds exactly the state after its step count.
 */
export async function resumePoint(
  store: ModelStore,
  runDir: string,
  named: Checkpoint | undefined,
  check: (state: ModelState) => void,
  warn: (message: string) => void,
): Promise<{ checkpoint: Checkpoint; state: ModelState } | undefined> {
  const tryRead = async (path: string): Promise<{ state: ModelState; extra: Record<string, unknown> } | undefined> => {
    try {
      const read = await readModelState(store.resolve(path));
      check(read.state);
      return read;
    } catch (err) {
      warn(`checkpoint ${path} cannot be resumed from (${(err as Error).message})`);
      return undefined;
    }
  };
  const fromHeartbeat = named && await tryRead(named.path);
  if (fromHeartbeat) return { checkpoint: named, state: fromHeartbeat.state };
  const onDisk = await listCheckpoints(store, runDir);
  // A first attempt, or one whose predecessors wrote no checkpoint: nothing to resume and nothing to report.
  if (!named && onDisk.length === 0) return undefined;
  for (const { path, stepsDone } of onDisk) {
    if (path === named?.path) continue;
    const read = await tryRead(path);
    const position = read?.extra.checkpoint as Omit<Checkpoint, 'path'> | undefined;
    if (read && position?.stepsDone === stepsDone && Number.isInteger(position.samplesDone) && Number.isFinite(position.elapsedMs)) {
      warn(`resuming from checkpoint ${path} (step ${stepsDone}) instead`);
      return { checkpoint: { path, ...position }, state: read.state };
    }
    if (read) warn(`checkpoint ${path} does not record its position (written by an earlier version); passed over`);
  }
  warn(`no checkpoint of ${runDir} can be resumed from: training starts afresh`);
  return undefined;
}

/**
 * Heartbeats reach the server at most once per throttle interval (0.8 × the heartbeat timeout, at most 60 s; 30 s
 * without a timeout), so the last heartbeat the server holds may name a checkpoint several checkpoints old.
 * A superseded checkpoint is kept this long after its successor was reported: twice the longest interval.
 */
export function retentionMs(heartbeatTimeoutMs: number | undefined): number {
  return 2 * Math.min(heartbeatTimeoutMs ? 0.8 * heartbeatTimeoutMs : 60_000, 60_000);
}

/** Superseded checkpoints kept at most, whatever their age, so frequent checkpoints of a big model do not fill the disk. */
const MAX_SUPERSEDED = 3;

/**
 * Deletes superseded checkpoints once a retry is unlikely to be told to resume from them (see retentionMs);
 * resumePoint covers the rest (a file deleted early, a worker killed mid-write).
 */
export class CheckpointRetention {
  private superseded: { path: string; since: number }[] = [];
  private current: string | undefined;

  constructor(private readonly store: ModelStore, private readonly retainMs: number) {}

  /** Checkpoints an earlier attempt left behind, other than the one resumed from: superseded from now on. */
  adopt(paths: string[]): void {
    const now = Date.now();
    this.superseded.push(...paths.map((path) => ({ path, since: now })));
  }

  /** Records that heartbeats now name `path`; the previous current one is superseded. Deletes those kept long enough. */
  async replace(path: string): Promise<void> {
    const now = Date.now();
    if (this.current !== undefined && this.current !== path) this.superseded.push({ path: this.current, since: now });
    this.current = path;
    this.superseded = this.superseded.filter((s) => s.path !== path);
    const expired = this.superseded.filter((s, i) => now - s.since >= this.retainMs || i < this.superseded.length - MAX_SUPERSEDED);
    await this.remove(expired.map((s) => s.path));
  }

  /** After the final state is written: only the current checkpoint stays, for a retry whose completion was lost. */
  async finish(): Promise<void> {
    await this.remove(this.superseded.map((s) => s.path));
  }

  private async remove(paths: string[]): Promise<void> {
    const doomed = new Set(paths);
    this.superseded = this.superseded.filter((s) => !doomed.has(s.path));
    for (const path of doomed) await rm(this.store.resolve(path), { force: true });
  }
}
