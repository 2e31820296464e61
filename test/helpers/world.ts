import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestPostgres, type TestPostgres } from './postgres.js';
import { runTestWorkers, startTestTemporal, type TestTemporal } from './temporal.js';

/**
 * What a pipeline integration test runs against: a real dev server and PostgreSQL, a data folder, and in-process
 * control and gpu workers on the test's own queues once `runWorkers` is called. `stop` undoes all of it.
 */
export interface TestWorld {
  temporal: TestTemporal;
  postgres: TestPostgres;
  /** A fresh temp folder for the test's files; the model store is `<root>/.store` unless runWorkers names another. */
  root: string;
  runWorkers(storeDir?: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestWorld(
  name: string, queues: { cpu: string; gpu: string }, dynamicConfig?: Record<string, string | number | boolean>,
): Promise<TestWorld> {
  const [temporal, postgres] = await Promise.all([startTestTemporal(dynamicConfig), startTestPostgres()]);
  const root = await mkdtemp(join(tmpdir(), `tideline-${name}-`));
  let stopWorkers: (() => Promise<void>) | undefined;
  return {
    temporal, postgres, root,
    async runWorkers(storeDir = join(root, '.store')) {
      stopWorkers = await runTestWorkers(temporal, { pool: postgres.pool, storeDir, queues, roles: ['control', 'gpu'] });
    },
    async stop() {
      await stopWorkers?.();
      await temporal.stop();
      await postgres.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
