/**
 * Ends a test file's process after its tests and hooks, even where a failure left a server or a connection open that
 * would keep it alive. Node's --test-force-exit exits as soon as the last test ends, which can be before the file's
 * reporter has written its results: the runner then counted 50 to 63 of test/unit/drift-stats.test.ts's 63 tests,
 * all passing (Node 20.20). Here the process exits only if it is still there GRACE_MS after the root's `after` hooks
 * start (this one is registered first, so the grace also covers the file's own teardown: stopping its servers takes
 * seconds); the timer is unref'd, so a process with nothing else left ends at once, its output complete.
 *
 * `npm test` loads it into each test file's process with --import, ahead of the test file. Plain JavaScript, because
 * worker threads inherit the --import and some (Temporal's workflow threads) load it before tsx could; only a test
 * file's main thread acts on it (the runner's own process and the workers have no tests to end).
 */
import { isMainThread } from 'node:worker_threads';

const GRACE_MS = 60_000;

if (isMainThread && process.env.NODE_TEST_CONTEXT !== undefined) {
  const { after } = await import('node:test');
  after(() => {
    setTimeout(() => process.exit(), GRACE_MS).unref();
  });
}
