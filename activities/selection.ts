import type { KeyRange } from '../policies/batches.js';
import type { SelectionPlan } from '../policies/selection/plan.js';
import { getDatasetById } from '../lib/data/datasets.js';
import { selectTrainingSet } from '../lib/data/training-set/select.js';
import { recordTrigger } from '../lib/pipelines/triggers.js';
import type { ActivityDeps } from './deps.js';
import { asActivityFailure } from './deterministic-errors.js';
import { configurationError } from './failures.js';

export interface SelectionArgs {
  pipelineId: number;
  datasetId: number;
  triggerId: number;
  /** The trigger's new data. */
  trigger: KeyRange;
  /** First key the pipeline saw, where an allData window starts. */
  pipelineFirstKey: number;
  /** What to select (policies/selection/plan.ts). */
  plan: SelectionPlan;
  /** Why the trigger policy fired (absent in histories recorded before reasons existed). */
  reason?: string;
}

/**
 * The arguments workflows scheduled before selection plans: the window as key ranges (the trigger's own, or one
 * from the pipeline's first key), read as the plan they meant.
 */
interface RangesArgs extends Omit<SelectionArgs, 'plan' | 'pipelineFirstKey'> {
  ranges: KeyRange[];
}

export interface SelectionResult {
  numNew: number;
  /** Samples the window held (held-out ones excluded). */
  numWindow: number;
  numSelected: number;
}

/** Writes a trigger's training set in the database; runs on the cpu task queue. */
export function selectionActivities({ pool }: ActivityDeps) {
  return {
    async selectTrainingSet(input: SelectionArgs | RangesArgs): Promise<SelectionResult> {
      const args = 'plan' in input ? input : fromRanges(input);
      try {
        const dataset = await getDatasetById(pool, args.datasetId);
        if (!dataset) throw configurationError('DatasetNotFound', `dataset ${args.datasetId} no longer exists`);
        const trigger = await recordTrigger(pool, args.pipelineId, args.datasetId, args.triggerId, args.trigger, args.reason ?? null);
        const selected = await selectTrainingSet(pool, { ...args, holdout: dataset.holdout });
        return { numNew: trigger.numNew, ...selected };
      } catch (err) {
        throw asActivityFailure(err, 'SelectionFailed', `trigger ${args.triggerId}: selecting the training set`);
      }
    },
  };
}

function fromRanges({ ranges, ...args }: RangesArgs): SelectionArgs {
  const firstKey = Math.min(...ranges.map((r) => r.firstKey));
  const window = firstKey < args.trigger.firstKey ? { kind: 'allData' as const } : { kind: 'newData' as const };
  return { ...args, pipelineFirstKey: firstKey, plan: { window, tracksUses: false, seed: 0 } };
}
