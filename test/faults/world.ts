import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import type { PipelineSpecInput } from '../../policies/spec.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal.js';
import { WorkerProcess } from './worker-process.js';

/** The data every fault pipeline runs on (`files` files of `fileSamples` samples) and its triggers. */
export const DATA = { files: 6, fileSamples: 800, features: 32, numClasses: 4, triggerEvery: 1500, triggers: 3 } as const;

/** Training of each trigger: about 500 steps of 16 samples (the holdout keeps a tenth), a checkpoint every 40 (~0.1 s). */
export const TRAINING = { epochs: 6, batchSize: 16, checkpointEvery: 40 } as const;

/** Checkpoints every trigger's training writes (the last one before its end left out): where training faults land. */
export const CHECKPOINTS = Array.from(
  { length: Math.floor((DATA.triggerEvery * 0.85 * TRAINING.epochs) / TRAINING.batchSize / TRAINING.checkpointEvery) - 1 },
  (_, i) => (i + 1) * TRAINING.checkpointEvery,
);

/**
 * The stack faults are injected into: a dev server on a SQLite file (so it can be killed and restarted), a
 * PostgreSQL whose commits survive a SIGKILL, a model store (on a tmpfs of `storeBytes` when given, so it can be
 * filled), and one control and one gpu worker, each a `tide worker` process.
 */
export interface FaultWorld {
  root: string;
  storeDir: string;
  temporal: TestTemporal;
  postgres: TestPostgres;
  queues: { cpu: string; gpu: string };
  /** What a `tide` process of this stack runs with: its servers, store and queues. */
  env: NodeJS.ProcessEnv;
  control: WorkerProcess;
  gpu: WorkerProcess;
  /** Registers a dataset of DATA's shape under `name` and writes its files (same seed: same samples); ingests nothing. */
  addDataset(name: string): Promise<{ dataset: Dataset; files: string[] }>;
  /** A small pipeline of DATA.triggers triggers on `dataset`, TRAINING each. */
  spec(dataset: string, seed: number): PipelineSpecInput;
  /** Stops everything; `keep` leaves the folder (worker logs) in place. */
  close(opts?: { keep?: boolean }): Promise<void>;
}

export async function startWorld(opts: { storeBytes?: number } = {}): Promise<FaultWorld> {
  const root = await mkdtemp(join(tmpdir(), 'tideline-faults-'));
  const storeDir = join(root, 'store');
  await mkdir(storeDir);
  if (opts.storeBytes) {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${opts.storeBytes}`, 'tmpfs', storeDir], { stdio: 'pipe' });
    } catch (err) {
      await rm(root, { recursive: true, force: true });
      const why = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
      throw new Error(`cannot mount a tmpfs for the model store at ${storeDir} (needs root): ${why}`);
    }
  }
  const starting = [startTestTemporal(undefined, { dbFile: join(root, 'temporal.sqlite') }), startTestPostgres({ synchronousCommit: true })] as const;
  const [temporal, postgres] = await Promise.all(starting).catch(async (err: unknown) => {
    await Promise.allSettled(starting.map(async (server) => (await server).stop()));
    if (opts.storeBytes) execFileSync('umount', [storeDir]);
    await rm(root, { recursive: true, force: true });
    throw err;
  });
  const queues = { cpu: 'faults-cpu', gpu: 'faults-gpu' };
  const env = {
    TEMPORAL_ADDRESS: temporal.server.address, DATABASE_URL: postgres.url, TIDELINE_STORE: storeDir,
    TIDELINE_HOME: join(root, 'home'), TIDELINE_CPU_QUEUE: queues.cpu, TIDELINE_GPU_QUEUE: queues.gpu,
  };
  const control = new WorkerProcess('control', env, join(root, 'control.log'));
  const gpu = new WorkerProcess('gpu', env, join(root, 'gpu.log'));
  control.start();
  gpu.start();

  return {
    root, storeDir, temporal, postgres, queues, env, control, gpu,
    async addDataset(name) {
      const dir = join(root, 'data', name);
      const files: string[] = [];
      for (let i = 0; i < DATA.files; i++) {
        files.push(await writeBlobFile(dir, `part-${i}.bin`, {
          samples: DATA.fileSamples, features: DATA.features, numClasses: DATA.numClasses,
          startTs: i * DATA.fileSamples, spanS: DATA.fileSamples, seed: 100 + i,
        }));
      }
      const dataset = await registerDataset(postgres.pool, { name, root: dir, format: syntheticFormat(DATA.features, DATA.numClasses) });
      return { dataset, files };
    },
    spec: (dataset, seed) => ({
      dataset: { name: dataset },
      model: { architecture: 'mlp', hidden: [64, 64], numClasses: DATA.numClasses },
      training: { ...TRAINING, optimizer: { name: 'adam', lr: 0.001 }, seed },
      trigger: { kind: 'dataAmount', every: DATA.triggerEvery },
      maxTriggers: DATA.triggers,
      queues,
    }),
    async close({ keep = false } = {}) {
      await Promise.all([control.stop(), gpu.stop()]);
      await temporal.stop();
      await postgres.stop();
      if (opts.storeBytes) execFileSync('umount', [storeDir]);
      if (!keep) await rm(root, { recursive: true, force: true });
    },
  };
}
