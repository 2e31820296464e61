import { createHash } from 'node:crypto';
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
  /** TEMPORAL_ADDRESS: a server to attach to; absent, the state folder's own dev server is used (started if need be). */
  temporalAddress?: string;
  /** True when TEMPORAL_ADDRESS was given: Tideline then never starts a dev server of its own. */
  temporalAddressGiven: boolean;
  namespace: string;
  /** External PostgreSQL; absent means the embedded one in `home`. */
  databaseUrl?: string;
  /**
   * Task queues. Those of an embedded stack end in the state folder's tag (`tideline-cpu-3f9a1c`), so two
   * stacks never take each other's work; explicit TIDELINE_*_QUEUE names, and the defaults when
   * TEMPORAL_ADDRESS names a shared server (workers of other machines meet there), are used as given.
   */
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
  const temporalAddressGiven = Boolean(env.TEMPORAL_ADDRESS);
  // Workers of a shared server (on other machines, with other state folders) must meet on the same names.
  const queueSuffix = temporalAddressGiven ? '' : `-${stateFolderTag(home)}`;
  return {
    home,
    storeDir: resolve(env.TIDELINE_STORE ?? resolve(home, 'store')),
    temporalAddress: env.TEMPORAL_ADDRESS || undefined,
    temporalAddressGiven,
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    databaseUrl: env.DATABASE_URL || undefined,
    cpuQueue: env.TIDELINE_CPU_QUEUE || `tideline-cpu${queueSuffix}`,
    gpuQueue: env.TIDELINE_GPU_QUEUE || `tideline-gpu${queueSuffix}`,
    executionProvider,
  };
}

/** Six hex digits of the resolved state folder's path: the same folder always gets the same tag. */
export function stateFolderTag(home: string): string {
  return createHash('sha256').update(resolve(home)).digest('hex').slice(0, 6);
}
