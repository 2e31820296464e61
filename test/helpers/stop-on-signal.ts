import { constants } from 'node:os';

/**
 * Servers a test file's process started, to stop when the process ends before the tests do: a signal (`node
 * --test`'s per-file timeout sends SIGTERM; Ctrl-C sends SIGINT to every file's process) or an exit on an uncaught
 * error. Without this their PostgreSQL clusters keep running, holding ports and data dirs, until someone kills them.
 * Dev servers need only the exit: temporal-dev-server.ts kills them from an 'exit' hook of its own.
 */
export interface TestServerCleanup {
  /** Stops the server and removes its files; on a signal. */
  stop(): Promise<void>;
  /** The synchronous part of that, for an exit the process is already in (no promise settles any more). */
  stopNow?(): void;
}

const running = new Set<TestServerCleanup>();
let installed = false;

/** Registers a server until the returned function is called (when the test stops the server itself). */
export function stopWithProcess(server: TestServerCleanup): () => void {
  if (!installed) {
    installed = true;
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    process.on('exit', onExit);
  }
  running.add(server);
  return () => running.delete(server);
}

async function onSignal(signal: NodeJS.Signals): Promise<void> {
  process.stderr.write(`${signal}: stopping ${running.size} test server(s)\n`);
  await Promise.allSettled([...running].map(async (server) => {
    await server.stop();
    running.delete(server);
  }));
  process.exit(128 + constants.signals[signal]);
}

function onExit(): void {
  for (const server of running) {
    try {
      server.stopNow?.();
    } catch {
      // Nothing more can be done while exiting; the other servers still get their turn.
    }
  }
}
