/**
 * Inference sessions kept alive across measurement calls. Starting a session host (a worker thread) and a
 * session costs about 250 ms, more than a whole drift check on a small window, so the gpu worker keeps ONE
 * SessionHost for the process and the sessions of the few models it measured last (an LRU keyed by model id).
 * The drift statistics run their graphs on the same host.
 */
import { batchInputs, type BatchInputs } from '../onnx/batch-feeds.js';
import type { LossKind } from '../onnx/losses.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import { SessionHost, type HostedSession, type SessionHostOptions } from '../onnx/session-host.js';

/** A stored model as a loader hands it over: the inference graph and the definition that says how to feed it. */
export interface LoadedModel {
  bytes: Uint8Array;
  def: Pick<ModelDefinition, 'architecture' | 'inputs' | 'loss' | 'outputSize'>;
}

/** A model's live session and how batches feed it. */
export interface ModelSession {
  modelId: number;
  session: HostedSession;
  inputs: BatchInputs;
  loss: LossKind;
  /** Width of the model's `output` per sample: what its metrics read. */
  outputSize: number;
}

export interface ModelSessionsOptions extends SessionHostOptions {
  /** Models whose sessions are kept; default 3 (the current model, the previous one, one more). */
  capacity?: number;
  /**
   * After this long without use the host and every session are closed, freeing the accelerator's memory for
   * training and letting a stopping worker process exit (the host's thread keeps it alive); the next use starts
   * them again. Checks that come in bursts (a backlog of data, one check per batch) stay warm. Default 10 s; 0: never.
   */
  idleMs?: number;
}

export interface ModelSessionsStats {
  /** Uses served by a live session, sessions created, sessions released to make room. */
  hits: number;
  loads: number;
  evictions: number;
}

interface Entry {
  ready: Promise<ModelSession>;
  /** Calls working with the session now: it is released only once they are done. */
  users: number;
}

export class ModelSessions {
  readonly stats: ModelSessionsStats = { hits: 0, loads: 0, evictions: 0 };
  private current: SessionHost | undefined;
  /** In use order: the least recently used first. */
  private readonly entries = new Map<number, Entry>();
  private readonly capacity: number;
  private readonly idleMs: number;
  private readonly hostOptions: SessionHostOptions;
  private active = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(options: ModelSessionsOptions = {}) {
    const { capacity = 3, idleMs = 10_000, ...hostOptions } = options;
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`ModelSessions: capacity must be an integer >= 1, got ${capacity}`);
    if (!(idleMs >= 0)) throw new Error(`ModelSessions: idleMs must be >= 0, got ${idleMs}`);
    this.capacity = capacity;
    this.idleMs = idleMs;
    this.hostOptions = hostOptions;
  }

  /** Models with a session (being created or live). */
  get size(): number {
    return this.entries.size;
  }

  /** Whether model `modelId` has a session (being created or live). */
  has(modelId: number): boolean {
    return this.entries.has(modelId);
  }

  /**
   * Runs `work` with model `modelId`'s session, created from `load()` on first use (or after its eviction). A
   * failed load leaves nothing behind, so the next call tries again.
   */
  async use<T>(modelId: number, load: () => Promise<LoadedModel>, work: (model: ModelSession) => Promise<T>): Promise<T> {
    return this.busy(async () => {
      let entry = this.entries.get(modelId);
      if (entry) {
        this.entries.delete(modelId);
        this.stats.hits++;
      } else {
        entry = { ready: this.open(modelId, load), users: 0 };
        this.stats.loads++;
      }
      this.entries.set(modelId, entry);
      entry.users++;
      try {
        const model = await entry.ready.catch((err: unknown) => {
          if (this.entries.get(modelId) === entry) this.entries.delete(modelId);
          throw err;
        });
        this.evictIdle();
        return await work(model);
      } finally {
        entry.users--;
        this.evictIdle();
      }
    });
  }

  /** Runs `work` with the host (started on first use), e.g. the drift statistics' graphs. */
  withHost<T>(work: (host: SessionHost) => Promise<T>): Promise<T> {
    return this.busy(() => work(this.host()));
  }

  /**
   * Closes the host and every session; calls in progress fail. The next use starts afresh, so this is also how
   * a caller recovers from a host that failed.
   */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const host = this.current;
    this.current = undefined;
    this.entries.clear();
    await host?.close();
  }

  private host(): SessionHost {
    this.current ??= new SessionHost(this.hostOptions);
    return this.current;
  }

  private async open(modelId: number, load: () => Promise<LoadedModel>): Promise<ModelSession> {
    const { bytes, def } = await load();
    const who = `model ${modelId}`;
    const inputs = batchInputs({ architecture: def.architecture, inputs: def.inputs }, who);
    const session = await this.host().createSession(bytes);
    const declared = [inputs.float?.name, inputs.ids?.name].filter((n): n is string => n !== undefined);
    if (session.inputNames.length !== declared.length || !declared.every((n) => session.inputNames.includes(n))) {
      await session.release().catch(() => {});
      throw new Error(`${who}: the graph's inputs (${session.inputNames.join(', ')}) are not the definition's (${declared.join(', ')})`);
    }
    return { modelId, session, inputs, loss: def.loss, outputSize: def.outputSize };
  }

  /** Releases the least recently used sessions beyond capacity that no call is using. */
  private evictIdle(): void {
    for (const [modelId, entry] of this.entries) {
      if (this.entries.size <= this.capacity) return;
      if (entry.users > 0) continue;
      this.entries.delete(modelId);
      this.stats.evictions++;
      // A session that failed to open was removed by its caller; a live one is released on the host.
      entry.ready.then((m) => m.session.release()).catch(() => {});
    }
  }

  /** Counts a call as using the host, and closes everything once no call has for `idleMs`. */
  private async busy<T>(work: () => Promise<T>): Promise<T> {
    clearTimeout(this.idleTimer);
    this.active++;
    try {
      return await work();
    } finally {
      if (--this.active === 0 && this.idleMs > 0) {
        this.idleTimer = setTimeout(() => void this.close(), this.idleMs);
        // The timer alone must not keep the process alive (the host's thread does, until it closes).
        this.idleTimer.unref();
      }
    }
  }
}
