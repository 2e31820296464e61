import { constants } from 'node:os';

/**
 * One abort signal for the whole `tide` process: the first SIGINT/SIGTERM asks the command to wind
 * down (workers drain, the stack it started is stopped); later ones are acknowledged but do not cut
 * the cleanup short, so no dev server or PostgreSQL is left running behind.
 */
const controller = new AbortController();
let received: NodeJS.Signals | undefined;
let count = 0;

function onSignal(signal: NodeJS.Signals) {
  count++;
  if (count === 1) {
    received = signal;
    process.stderr.write(`\n${signal}: stopping…\n`);
    controller.abort(new Error(`interrupted by ${signal}`));
  } else if (count === 3) {
    process.stderr.write('still stopping; send SIGKILL to abandon the cleanup\n');
  }
}

let installed = false;

export function shutdownSignal(): AbortSignal {
  if (!installed) {
    installed = true;
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return controller.signal;
}

/**
 * For work that does not wind down on the abort signal itself (a one-shot command, a wait on a
 * pipeline, a benchmark): on the first SIGINT/SIGTERM runs `cleanup` (stops what the process started),
 * then exits with 128 + the signal's number, as the signal itself would have. Returns a function that
 * cancels this, for when the work ends first.
 */
export function exitOnSignal(cleanup: () => Promise<void>): () => void {
  const signal = shutdownSignal();
  const onAbort = () => {
    cleanup()
      .catch((err) => process.stderr.write(`cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`))
      .finally(() => process.exit(128 + constants.signals[received ?? 'SIGINT']));
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}
