/**
 * Main-thread handle on a worker thread that hosts ONNX Runtime sessions (see session-worker.ts).
 * Requests are processed in order, so callers may queue several runs without awaiting each one.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Feed, HostTableList, HostTableRun, Inventory, Reply, Request, SessionOptions, TensorData, WorkerData } from './session-protocol.js';

export type { Feed, HostTableRun, SessionOptions, TensorArray, TensorData, TensorType } from './session-protocol.js';

/** One intra-op thread is fastest on small CPU boxes; the default (all cores) was 1.5–3× slower. */
export const DEFAULT_SESSION_OPTIONS: SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionProviders: ['cpu'],
};

/**
 * Options for a session on `threads` intra-op threads. With more than one, the pool's threads block between parallel
 * kernels instead of spinning: on the 2-vCPU VM where this was measured, spinning threads put whole processes, for
 * minutes at a time, into a state where two-thread steps ran no faster than one thread's (ResNet at 256 in 18 fresh
 * processes: 5 at 536–566 ms a step, 4 at 395–461, 9 at 281–350, one thread 448–460; without spinning, 13 at 305–381).
 */
export function intraOpThreadOptions(threads: number): SessionOptions {
  return threads > 1 ? { intraOpNumThreads: threads, extra: { session: { intra_op: { allow_spinning: '0' } } } } : { intraOpNumThreads: threads };
}

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionHostOptions {
  /** 'cuda' asks ORT for CUDA (unsupported ops run on CPU); default 'cpu'. */
  executionProvider?: ExecutionProvider;
  /** CUDA device ordinal; default 0. */
  deviceId?: number;
  /** Told once per host when CUDA was asked for but sessions run on the CPU instead. */
  onWarning?: (message: string) => void;
}

/** Session-creation errors that mean "no usable CUDA", as opposed to a bad model. */
const CUDA_UNAVAILABLE = /cuda|providers_shared/i;

/**
 * Set once the CUDA provider library failed to load in this process: it is either installed or not, so later
 * hosts go straight to the CPU instead of repeating the attempt (and ORT's native error log line). Other CUDA
 * failures (no device, out of memory) are retried by the next host.
 */
let cudaNotInstalled: string | undefined;

const WORKER_URL = new URL('./session-worker.ts', import.meta.url);

/**
 * Node 20 worker threads do not inherit tsx's module hooks (privatenumber/tsx#354), so a .ts worker entry
 * fails with ERR_UNKNOWN_FILE_EXTENSION. A one-line bootstrap registers tsx in the worker, then imports it.
 */
function spawnWorker(workerData: WorkerData): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

export interface RunOptions {
  /** Outputs to send back; default: every output that is not kept. */
  fetch?: string[];
  /** Output name → store name: outputs kept in the worker, to be fed back later as `{ stored: name }`. */
  keep?: Record<string, string>;
  /** Transfer (detach) the buffers of the inline feeds instead of copying them; the caller gives them up. */
  transfer?: boolean;
  /**
   * With `transfer`: the worker sends the buffers of the inline feeds of at least `minBytes` back once the run is
   * done with them, and `take` gets them (e.g. to fill later batches) before the run's promise settles.
   */
  recycle?: BufferRecycler;
  /**
   * Stored tables to gather rows from before the run and, unless `gatherOnly`, to update after it (their gradients are
   * not sent back). The worker is sent a list's descriptions once, with the session's first run that uses it, and keeps
   * them until the session is released: a list is not to change afterwards (hostTableRuns freezes its lists); other
   * tables take another list.
   */
  tables?: readonly HostTableRun[];
  /** The `tables`' rows are gathered for the run, and the tables left as they are (a forward: its graph has no gradients). */
  gatherOnly?: boolean;
}

/** Where buffers a run gives back go (RunOptions.recycle). */
export interface BufferRecycler {
  /** Smaller buffers are not worth sending back. */
  minBytes: number;
  take(buffers: ArrayBuffer[]): void;
}

export class HostedSession {
  /** The id of each host-table list this session's runs sent to the worker, which keeps them until the release. */
  private readonly tableLists = new WeakMap<readonly HostTableRun[], number>();
  private nextTableList = 1;

  constructor(
    private readonly host: SessionHost,
    readonly id: number,
    readonly inputNames: string[],
    readonly outputNames: string[],
    /** Where the session actually runs: 'cpu' after a fallback from 'cuda'. */
    readonly executionProvider: ExecutionProvider,
  ) {}

  run(feeds: Record<string, Feed>, opts: RunOptions = {}): Promise<Record<string, TensorData>> {
    const transfer = new Set<ArrayBuffer>();
    return this.host.request<Record<string, TensorData>>(
      {
        op: 'run', session: this.id, feeds: sendable(feeds, opts, transfer), fetch: opts.fetch ?? null, keep: opts.keep ?? {},
        tables: this.tableList(opts.tables), gatherOnly: opts.gatherOnly ?? false, giveBackFrom: giveBackFrom(opts),
      },
      [...transfer],
      opts.recycle,
    );
  }

  /**
   * Consecutive runs in one request, each on its own feeds (a stored feed is read as the run before left it), so that
   * a sequence of short runs pays one round trip to the worker; `fetch`ed outputs come back stacked [runs, ...dims].
   */
  runSteps(steps: Record<string, Feed>[], opts: RunOptions & { fetch: string[] }): Promise<Record<string, TensorData>> {
    const transfer = new Set<ArrayBuffer>();
    return this.host.request<Record<string, TensorData>>(
      { op: 'runSteps', session: this.id, steps: steps.map((f) => sendable(f, opts, transfer)), fetch: opts.fetch, keep: opts.keep ?? {}, tables: this.tableList(opts.tables), giveBackFrom: giveBackFrom(opts) },
      [...transfer],
      opts.recycle,
    );
  }

  async release(): Promise<void> {
    await this.host.request({ op: 'release', session: this.id });
  }

  /** How a run request names `tables`: by id, with their descriptions the first time (HostTableList). */
  private tableList(tables: readonly HostTableRun[] | undefined): HostTableList | null {
    if (!tables?.length) return null;
    const sent = this.tableLists.get(tables);
    if (sent !== undefined) return { id: sent };
    const id = this.nextTableList++;
    this.tableLists.set(tables, id);
    return { id, runs: [...tables] };
  }
}

function giveBackFrom(opts: RunOptions): number | null {
  return opts.transfer && opts.recycle ? opts.recycle.minBytes : null;
}

/** Feeds as a request carries them: inline tensors compacted, their buffers added to `transfer` when the options say so. */
function sendable(feeds: Record<string, Feed>, opts: RunOptions, transfer: Set<ArrayBuffer>): Record<string, Feed> {
  const sent: Record<string, Feed> = {};
  for (const [name, f] of Object.entries(feeds)) {
    if ('stored' in f) {
      sent[name] = f;
      continue;
    }
    const t = compact(f);
    sent[name] = t;
    if (opts.transfer && t.data.buffer instanceof ArrayBuffer) transfer.add(t.data.buffer);
  }
  return sent;
}

/**
 * A view into part of a larger buffer is copied out first: posting it would clone (or transfer) the whole buffer.
 * Shared buffers are left alone; they cross threads without a copy.
 */
function compact(t: TensorData): TensorData {
  const d = t.data;
  if (!(d.buffer instanceof ArrayBuffer) || (d.byteOffset === 0 && d.byteLength === d.buffer.byteLength)) return t;
  return { ...t, data: d.slice() };
}

export class SessionHost {
  private readonly cancel = new Int32Array(new SharedArrayBuffer(4));
  private readonly worker = spawnWorker({ cancel: this.cancel.buffer as SharedArrayBuffer });
  private readonly exited = once(this.worker, 'exit').then(() => {});
  private closing = false;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; recycle?: BufferRecycler }>();
  private nextId = 1;
  private nextSession = 1;
  private failure: Error | undefined;
  private warned = false;

  constructor(private readonly options: SessionHostOptions = {}) {
    this.worker.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) {
        if (reply.returned) p.recycle?.take(reply.returned);
        p.resolve(reply.result);
      }
      else p.reject(new Error(`onnxruntime: ${reply.error}`));
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`session worker exited (code ${code})`)));
  }

  /** On the host's execution provider, which takes precedence over `options.executionProviders`. */
  async createSession(model: Uint8Array, options: SessionOptions = {}): Promise<HostedSession> {
    if (this.options.executionProvider === 'cuda') {
      let reason = cudaNotInstalled;
      if (reason === undefined) {
        const cuda: SessionOptions['executionProviders'] = [{ name: 'cuda', deviceId: this.options.deviceId ?? 0 }, 'cpu'];
        try {
          return await this.create(model, { ...options, executionProviders: cuda }, 'cuda');
        } catch (e) {
          if (!(e instanceof Error && CUDA_UNAVAILABLE.test(e.message)) || this.failure) throw e;
          reason = e.message;
          if (/failed to load/i.test(reason)) cudaNotInstalled = reason;
        }
      }
      if (!this.warned) this.options.onWarning?.(`CUDA execution provider unavailable, running on CPU (${reason})`);
      this.warned = true;
    }
    return this.create(model, { ...options, executionProviders: ['cpu'] }, 'cpu');
  }

  private async create(model: Uint8Array, options: SessionOptions, ep: ExecutionProvider): Promise<HostedSession> {
    const id = this.nextSession++;
    const { inputNames, outputNames } = await this.request<{ inputNames: string[]; outputNames: string[] }>({
      op: 'create', session: id, model, options: { ...DEFAULT_SESSION_OPTIONS, ...options },
    });
    return new HostedSession(this, id, inputNames, outputNames, ep);
  }

  /**
   * Stores tensors in the worker, e.g. initial parameters: copied, or with `transfer` moved, as a run's feeds are
   * (the caller gives up the arrays that own their whole buffer).
   */
  async put(tensors: Record<string, TensorData>, opts: { transfer?: boolean } = {}): Promise<void> {
    const transfer = new Set<ArrayBuffer>();
    await this.request({ op: 'put', tensors: sendable(tensors, opts, transfer) as Record<string, TensorData> }, [...transfer]);
  }

  /**
   * Copies stored tensors back; queued after every request sent before it, so it sees their effects. `take`
   * removes them from the store instead and moves their buffers without a copy (e.g. the final state of large
   * tables).
   */
  get(names: string[], opts: { take?: boolean } = {}): Promise<Record<string, TensorData>> {
    return this.request({ op: 'get', names, take: opts.take ?? false });
  }

  /** Whether requests can still succeed: neither closed nor failed. */
  get usable(): boolean {
    return !this.closing && !this.failure;
  }

  /** Whether the worker holds no session, stored tensor or table: what a host lent out again must be. */
  async isEmpty(): Promise<boolean> {
    const { sessions, stored, held } = await this.request<Inventory>({ op: 'inventory' });
    return sessions === 0 && stored === 0 && held === 0;
  }

  /** Whether the worker thread keeps the process alive (as it does from the start): an idle pooled host does not. */
  keepsProcessAlive(yes: boolean): void {
    if (yes) this.worker.ref();
    else this.worker.unref();
  }

  /**
   * Rejects pending requests with `reason` at once and makes the worker drop its queue and exit; resolves when it
   * has, which is after the run in progress (if any) finishes. Idempotent.
   */
  async close(reason: Error = new Error('session host closed')): Promise<void> {
    this.fail(reason);
    if (!this.closing) {
      this.closing = true;
      // Waiting for the exit keeps the process alive, even for an idle pooled host.
      this.worker.ref();
      Atomics.store(this.cancel, 0, 1);
      this.worker.postMessage({ id: 0, req: { op: 'close' } satisfies Request });
    }
    await this.exited;
  }

  /** `recycle` takes the buffers a run request gives back (RunOptions.recycle). */
  request<T>(req: Request, transfer: ArrayBuffer[] = [], recycle?: BufferRecycler): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, recycle });
      this.worker.postMessage({ id, req }, transfer);
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }
}
