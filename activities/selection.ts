import type { KeyRange } from '../policies/batches.js';
import { getDatasetById } from '../lib/data/datasets.js';
import { writeTrainingSet } from '../lib/data/selection.js';
import { recordTrigger, setSelectedCount } from '../lib/pipelines/triggers.js';
import type { ActivityDeps } from './deps.js';
import { asActivityFailure } from './deterministic-errors.js';
import { configurationError } from './failures.js';

export interface SelectionArgs {
  pipelineId: number;
  datasetId: number;
  triggerId: number;
  /** The trigger's new data. */
  trigger: KeyRange;
  /** Ranges the training set is drawn from (see policies/selection). */
  ranges: KeyRange[];
  /** Why the trigger policy fired (absent in histories recorded before reasons existed). */
  reason?: string;
}

/** Writes a trigger's training set in the database; runs on the cpu task queue. */
export function selectionActivities({ pool }: ActivityDeps) {
  return {
    async selectTrainingSet(args: SelectionArgs): Promise<{ numNew: number; numSelected: number }> {
      try {
        const dataset = await getDatasetById(pool, args.datasetId);
        if (!dataset) throw configurationError('DatasetNotFound', `dataset ${args.datasetId} no longer exists`);
        const trigger = await recordTrigger(pool, args.pipelineId, args.datasetId, args.triggerId, args.trigger, args.reason ?? null);
        const numSelected = await writeTrainingSet(pool, {
          pipelineId: args.pipelineId,
          triggerId: args.triggerId,
          datasetId: args.datasetId,
          ranges: args.ranges,
          holdout: dataset.holdout,
        });
        await setSelectedCount(pool, args.pipelineId, args.triggerId, numSelected);
        return { numNew: trigger.numNew, numSelected };
      } catch (err) {
        throw asActivityFailure(err, 'SelectionFailed', `trigger ${args.triggerId}: selecting the training set`);
      }
    },
  };
}
