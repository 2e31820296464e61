import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, DefaultLogger, makeTelemetryFilterString, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type pg from 'pg';
import { ensureTemporalCli } from '../../lib/stack/temporal-cli.js';
import { startTemporalDevServer, type DevServer } from '../../lib/stack/temporal-dev-server.js';
import { WORKFLOWS_PATH, type WorkerRole } from '../../workers/plugin.js';
import { createWorkers, runWorkers } from '../../workers/workers.js';

export interface TestTemporal {
  server: DevServer;
  connection: Connection;
  nativeConnection: NativeConnection;
  client: Client;
  bundle: WorkflowBundleWithSourceMap;
  stop(): Promise<void>;
}

let runtimeInstalled = false;

/** A real Temporal dev server (in memory, headless, free port) and one workflow bundle for the file's tests. */
export async function startTestTemporal(dynamicConfig?: Record<string, string | number | boolean>): Promise<TestTemporal> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} } },
    });
  }
  const cli = await ensureTemporalCli((line) => console.log(line));
  const server = await startTemporalDevServer({ cli, uiPort: false, dynamicConfig });
  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') });
  return {
    server,
    connection,
    nativeConnection,
    client: new Client({ connection }),
    bundle,
    async stop() {
      await nativeConnection.close();
      await connection.close();
      await server.stop();
    },
  };
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
