/**
 * One abort signal for the whole `tide` process: the first SIGINT/SIGTERM asks the command to wind
 * down (workers drain, the stack it started is stopped); later ones are acknowledged but do not cut
 * the cleanup short, so no dev server or PostgreSQL is left running behind.
 */
const controller = new AbortController();
let received = 0;

function onSignal(signal: NodeJS.Signals) {
  received++;
  if (received === 1) {
    process.stderr.write(`\n${signal}: stopping…\n`);
    controller.abort(new Error(`interrupted by ${signal}`));
  } else if (received === 3) {
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
