import { defineQuery } from '@temporalio/workflow';

/** Where an experiment stands: its pipelines done (completed or failed) and running. */
export interface ExperimentStatus {
  runs: number;
  completed: number;
  failed: number;
  /** Names of the pipelines running now, in start order. */
  running: string[];
  /** What the experiment does besides running pipelines, e.g. "writing the results". */
  current: string;
}
export const experimentStatusQuery = defineQuery<ExperimentStatus>('experimentStatus');
