import { constants } from 'node:os';

/**
 * Servers a test file's process started, to stop when a signal ends it (`node --test`'s per-file timeout sends
 * SIGTERM; Ctrl-C sends SIGINT to every file's process). Without this the process dies at once and its PostgreSQL
 * clusters and dev servers keep running, holding ports and temp dirs, until someone kills them.
 */
const running = new Set<() => Promise<void>>();
let installed = false;

/** Registers `stop` until the returned function is called (when the test stops the server itself). */
export function stopOnSignal(stop: () => Promise<void>): () => void {
  if (!installed) {
    installed = true;
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  running.add(stop);
  return () => running.delete(stop);
}

/** Stops what is registered, then exits, which also runs the dev servers' exit hooks (temporal-dev-server.ts). */
async function onSignal(signal: NodeJS.Signals): Promise<void> {
  process.stderr.write(`${signal}: stopping ${running.size} test server(s)\n`);
  await Promise.allSettled([...running].map((stop) => stop()));
  process.exit(128 + constants.signals[signal]);
}
