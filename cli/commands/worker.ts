import { parseArgs } from 'node:util';
import type { WorkerRole } from '../../workers/plugin.js';
import { createWorkers } from '../../workers/workers.js';
import { openContext } from '../context.js';
import { step } from '../progress.js';
import { runWorkersUntil } from '../run-workers.js';
import { shutdownSignal } from '../signals.js';

const ROLES: Record<string, WorkerRole[]> = { control: ['control'], gpu: ['gpu'], all: ['control', 'gpu'] };

/**
 * Runs Tideline workers until SIGINT/SIGTERM: `control` (pipeline workflows + cpu activities),
 * `gpu` (training and evaluation), or `all`. `tide up` is `tide worker --role all` that also
 * prints where everything answers.
 */
export async function worker(args: string[], banner = false): Promise<void> {
  const { values } = parseArgs({ args, options: { role: { type: 'string', default: 'all' } } });
  const roles = ROLES[values.role!];
  if (!roles) throw new Error(`--role: "${values.role}" is not one of ${Object.keys(ROLES).join(', ')}`);
  const stopping = shutdownSignal();
  const ctx = await openContext({ windsDownOnSignal: true });
  try {
    const { config } = ctx;
    const workers = await step(`Starting ${values.role} worker${roles.length > 1 ? 's' : ''}`, async () =>
      createWorkers({
        connection: await ctx.workerConnection(), namespace: config.namespace, roles,
        deps: { pool: ctx.pool, storeDir: config.storeDir, executionProvider: config.executionProvider }, cpuQueue: config.cpuQueue, gpuQueue: config.gpuQueue,
      }),
    );
    if (banner && !stopping.aborted) {
      console.log(`\nTideline is up.`);
      console.log(`  Temporal:    ${ctx.stack.temporalAddress} (namespace ${config.namespace})`);
      if (ctx.stack.uiUrl) console.log(`  Web UI:      ${ctx.stack.uiUrl}`);
      console.log(`  PostgreSQL:  ${ctx.stack.databaseUrl.replace(/\/\/[^@]*@/, '//…@')}`);
      console.log(`  Task queues: ${config.cpuQueue} (control), ${config.gpuQueue} (gpu)`);
      console.log(`  Model store: ${config.storeDir}`);
      console.log('Press Ctrl-C to stop.');
    }
    // A server of the stack that dies ends the workers too, with its name and a non-zero exit code: they
    // would otherwise keep polling a half-dead stack.
    const until = new AbortController();
    stopping.addEventListener('abort', () => until.abort(), { once: true });
    void ctx.stack.died.then((why) => {
      if (until.signal.aborted) return;
      process.stderr.write(`\n  ${why}: stopping.\n`);
      process.exitCode = 1;
      until.abort();
    });
    await runWorkersUntil(workers, until.signal);
  } finally {
    await ctx.close();
  }
}
