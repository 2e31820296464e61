/** Marks a promise whose result may never be awaited (the consumer stopped early) as handled. */
export function prefetch<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
