/**
 * Stops the training loop on abort or on the first failed step, even while it awaits a slow batch: the loop
 * awaits everything through `race`, which rejects as soon as `stop` is called.
 */
export class Halt {
  private reason: { error: unknown } | undefined;
  private readonly waiters = new Set<(e: unknown) => void>();

  /** The first reason wins; later calls change nothing. Bound, so it can be passed as a rejection handler. */
  readonly stop = (e: unknown): void => {
    this.reason ??= { error: e };
    for (const w of this.waiters) w(this.reason.error);
    this.waiters.clear();
  };

  /**
   * `p`, or the halt reason if that comes first. (Not Promise.race against a never-settling promise: each race
   * would leave a reaction on it holding the raced value, e.g. every batch, for the whole call.)
   */
  race<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.reason) return reject(this.reason.error);
      this.waiters.add(reject);
      p.then(
        (v) => { this.waiters.delete(reject); resolve(v); },
        (e) => { this.waiters.delete(reject); reject(e); },
      );
    });
  }

  /** Stops on `signal`'s abort with its reason, then calls `then` with it; returns the function that detaches. */
  stopOnAbort(signal: AbortSignal | undefined, then: (reason: Error) => void): () => void {
    if (!signal) return () => {};
    const onAbort = (): void => {
      this.stop(signal.reason);
      then(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    return () => signal.removeEventListener('abort', onAbort);
  }
}
