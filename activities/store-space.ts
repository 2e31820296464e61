import { ApplicationFailure } from '@temporalio/common';

/** Error codes of a file system that is full or over its quota. */
const FULL = new Set(['ENOSPC', 'EDQUOT']);

function fullDiskError(err: unknown): Error | undefined {
  for (let e = err; e instanceof Error; e = e.cause) if (FULL.has((e as NodeJS.ErrnoException).code ?? '')) return e;
  return undefined;
}

/**
 * `activities` whose failures on a full disk name the model store. Activities write files only there, but Node's
 * error names neither the file system nor the work ("ENOSPC: no space left on device, write"). The failure stays
 * retryable: once space is freed the next attempt goes on (training from its last checkpoint), and the bounded
 * retry policy ends the pipeline with this message if nobody frees any (invariant 7).
 */
export function namingFullStore<T extends Record<string, (args: never) => Promise<unknown>>>(storeDir: string, activities: T): T {
  const wrapped = Object.entries(activities).map(([name, run]) => [name, async (args: never) => {
    try {
      return await run(args);
    } catch (err) {
      const full = fullDiskError(err);
      if (!full) throw err;
      const trigger = (args as { triggerId?: unknown } | undefined)?.triggerId;
      const what = `${trigger === undefined ? '' : `trigger ${trigger}: `}${name}`;
      throw ApplicationFailure.retryable(`${what}: the model store ${storeDir} is out of space (${full.message}); free space there and the next attempt goes on`, 'StoreFull');
    }
  }]);
  return Object.fromEntries(wrapped) as T;
}
