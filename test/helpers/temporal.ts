import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, DefaultLogger, makeTelemetryFilterString, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type pg from 'pg';
import { ensureTemporalCli } from '../../lib/stack/temporal-cli.js';
import { startTemporalDevServer, type DevServer } from '../../lib/stack/temporal-dev-server.js';
import { WORKFLOWS_PATH, type WorkerRole } from '../../workers/plugin.js';
import { stopWithProcess } from './stop-on-signal.js';
import { createWorkers, runWorkers } from '../../workers/workers.js';

export interface TestTemporal {
  server: DevServer;
  connection: Connection;
  nativeConnection: NativeConnection;
  client: Client;
  bundle: WorkflowBundleWithSourceMap;
  /** SIGKILLs the dev server, as a crash would, and waits until it is gone; `server` keeps its address. */
  killServer(): Promise<void>;
  /** Starts the dev server again on the same port and database file (`dbFile`; in memory, it starts empty). */
  restartServer(): Promise<void>;
  stop(): Promise<void>;
}

let runtimeInstalled = false;

/**
 * A real Temporal dev server (headless, free port; in memory, or on the SQLite file `dbFile` so that a restart keeps
 * its histories) and one workflow bundle for the file's tests.
 */
export async function startTestTemporal(
  dynamicConfig?: Record<string, string | number | boolean>,
  options: { dbFile?: string } = {},
): Promise<TestTemporal> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} } },
    });
  }
  const cli = await ensureTemporalCli((line) => console.log(line));
  const start = (port?: number) => startTemporalDevServer({ cli, uiPort: false, dynamicConfig, dbFile: options.dbFile, port });
  const server = await start();
  // A server started again after killServer is not stopped here: process.exit kills it (temporal-dev-server.ts).
  const detachFromProcess = stopWithProcess({ stop: () => server.stop() });
  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') });
  const temporal: TestTemporal = {
    server,
    connection,
    nativeConnection,
    client: new Client({ connection }),
    bundle,
    async killServer() {
      process.kill(temporal.server.pid, 'SIGKILL');
      await temporal.server.exited;
    },
    async restartServer() {
      const port = Number(server.address.split(':').pop());
      const restarted = await start(port);
      // Connections and workers hold the address: a server on another port would leave them dialing the dead one.
      if (restarted.address !== server.address) {
        await restarted.stop();
        throw new Error(`the dev server could not get its port back (${server.address}, got ${restarted.address})`);
      }
      temporal.server = restarted;
    },
    async stop() {
      detachFromProcess();
      await nativeConnection.close();
      await connection.close();
      await temporal.server.stop();
    },
  };
  return temporal;
}

/**
 * In-process Tideline workers of `roles` on the test server and database, polling `queues` until the returned
 * function is called (it stops them and waits until they have shut down).
 */
export async function runTestWorkers(
  temporal: TestTemporal,
  args: { pool: pg.Pool; storeDir: string; queues: { cpu: string; gpu: string }; roles: WorkerRole[] },
): Promise<() => Promise<void>> {
  const workers = await createWorkers({
    connection: temporal.nativeConnection, namespace: 'default', roles: args.roles,
    deps: { pool: args.pool, storeDir: args.storeDir, executionProvider: 'cpu' }, cpuQueue: args.queues.cpu, gpuQueue: args.queues.gpu,
    workflowBundle: temporal.bundle,
  });
  const abort = new AbortController();
  const running = runWorkers(workers, abort.signal);
  return () => {
    abort.abort();
    return running;
  };
}
