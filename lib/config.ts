import { resolve } from 'node:path';

/**
 * Tideline's settings, from the environment. The embedded default needs none of them; a distributed
 * deployment sets TEMPORAL_ADDRESS, DATABASE_URL and TIDELINE_STORE (a volume shared by all workers).
 */
export interface TidelineConfig {
  /** State folder of the embedded stack: Temporal's SQLite file, PostgreSQL's data dir, logs. */
  home: string;
  /** Model store and checkpoints; shared by every worker in a distributed deployment. */
  storeDir: string;
  temporalAddress: string;
  /** True when TEMPORAL_ADDRESS was given: Tideline then never starts a dev server of its own. */
  temporalAddressGiven: boolean;
  namespace: string;
  /** External PostgreSQL; absent means the embedded one in `home`. */
  databaseUrl?: string;
  cpuQueue: string;
  gpuQueue: string;
  /** Execution provider of the models a gpu worker runs. */
  executionProvider: 'cpu' | 'cuda';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): TidelineConfig {
  const home = resolve(env.TIDELINE_HOME ?? '.tideline');
  const executionProvider = env.TIDELINE_EXECUTION_PROVIDER ?? 'cpu';
  if (executionProvider !== 'cpu' && executionProvider !== 'cuda') {
    throw new Error(`TIDELINE_EXECUTION_PROVIDER: "${executionProvider}" is not one of cpu, cuda`);
  }
  return {
    home,
    storeDir: resolve(env.TIDELINE_STORE ?? resolve(home, 'store')),
    temporalAddress: env.TEMPORAL_ADDRESS ?? 'localhost:7233',
    temporalAddressGiven: Boolean(env.TEMPORAL_ADDRESS),
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    databaseUrl: env.DATABASE_URL || undefined,
    cpuQueue: env.TIDELINE_CPU_QUEUE ?? 'tideline-cpu',
    gpuQueue: env.TIDELINE_GPU_QUEUE ?? 'tideline-gpu',
    executionProvider,
  };
}
