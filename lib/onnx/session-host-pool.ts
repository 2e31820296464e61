/**
 * Session hosts kept between training calls of one process. Starting a host costs about 0.2 s (a worker thread that
 * loads tsx and onnxruntime-node), paid by every training activity until now: 10–20% of a trigger's training on the
 * mnist pipelines. A host given back goes to the next `take` if the worker is empty (no session, stored tensor or
 * table left: a call that failed may leave its state behind) and still usable; otherwise, and after `idleMs` unused,
 * it is closed. Only CPU hosts are kept: a CUDA host holds device memory, and tells its CUDA fallback once.
 */
import { SessionHost, type SessionHostOptions } from './session-host.js';

export class SessionHostPool {
  private readonly idle: { host: SessionHost; timer: NodeJS.Timeout }[] = [];
  /** Hosts this pool started for CPU: the ones it may keep. */
  private readonly poolable = new WeakSet<SessionHost>();

  constructor(
    private readonly idleMs: number,
    /** Idle hosts kept at most. */
    private readonly most: number,
  ) {}

  /** An idle CPU host, else a new one; `options` as for SessionHost. */
  take(options: SessionHostOptions = {}): SessionHost {
    if ((options.executionProvider ?? 'cpu') !== 'cpu') return new SessionHost(options);
    const kept = this.idle.pop();
    if (kept) {
      clearTimeout(kept.timer);
      kept.host.keepsProcessAlive(true);
      return kept.host;
    }
    const host = new SessionHost(options);
    this.poolable.add(host);
    return host;
  }

  /** Keeps `host` for the next `take` when it is a usable, empty CPU host and there is room; closes it otherwise. */
  async giveBack(host: SessionHost): Promise<void> {
    const keep = this.poolable.has(host) && host.usable && await host.isEmpty().catch(() => false);
    // The room is counted once the worker has answered: another host may have taken it meanwhile.
    if (!keep || this.idle.length >= this.most) {
      await host.close();
      return;
    }
    host.keepsProcessAlive(false);
    const timer = setTimeout(() => void this.drop(host), this.idleMs);
    timer.unref();
    this.idle.push({ host, timer });
  }

  /** Closes every idle host. */
  async close(): Promise<void> {
    const idle = this.idle.splice(0);
    for (const { timer } of idle) clearTimeout(timer);
    await Promise.all(idle.map(({ host }) => host.close()));
  }

  private async drop(host: SessionHost): Promise<void> {
    const at = this.idle.findIndex((e) => e.host === host);
    if (at >= 0) this.idle.splice(at, 1);
    await host.close();
  }
}

/** The process's pool: one idle host, closed after 30 s unused. */
export const sessionHostPool = new SessionHostPool(30_000, 1);
