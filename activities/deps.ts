import type pg from 'pg';

/** What activities need from the process that hosts them. */
export interface ActivityDeps {
  pool: pg.Pool;
  /** Model store and checkpoints (a shared volume in a distributed deployment). */
  storeDir: string;
  /** Where this worker runs models: CUDA falls back to the CPU, with a warning, when it cannot be used. */
  executionProvider: 'cpu' | 'cuda';
}
