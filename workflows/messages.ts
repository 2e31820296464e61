import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';

/**
 * A wake-up: "dataset D has new data". It carries no data facts: the pipeline reads the batches after the
 * last one it saw from the database, so a lost, repeated, forged or malformed signal costs nothing.
 * Extra fields (earlier senders also sent the batches) are ignored.
 */
export const newDataSchema = z.object({ datasetId: z.number().int().positive() });
export type NewDataSignal = z.input<typeof newDataSchema>;
export const newDataSignal = defineSignal<[NewDataSignal]>('newData');

/** Finish the trigger in progress, then complete the pipeline. */
export const stopSignal = defineSignal('stop');

export const triggerStageSchema = z.object({
  triggerId: z.number().int().min(0),
  stage: z.enum(['selecting', 'training', 'storing', 'evaluating']),
});
export type TriggerStage = z.infer<typeof triggerStageSchema>['stage'];
/** Sent by a trigger's child workflow to its pipeline as it moves through its stages. */
export const triggerStageSignal = defineSignal<[z.infer<typeof triggerStageSchema>]>('triggerStage');

export interface PipelineStatus {
  pipelineId?: number;
  datasetId?: number;
  triggers: number;
  models: number;
  samplesSeen: number;
  lastKey: number;
  /** What the pipeline is doing now, e.g. "trigger 3: training" or "waiting for data". */
  current: string;
  /** Accuracy of the latest model on its own interval's held-out samples. */
  lastAccuracy?: number;
  /** Accuracy of the previous model on the latest interval, i.e. on data it had not seen. */
  lastNextPeriodAccuracy?: number;
  pendingTriggers: number;
  stopRequested: boolean;
}
export const statusQuery = defineQuery<PipelineStatus>('status');
