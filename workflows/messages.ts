import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { BatchDescriptor } from '../policies/batches.js';

/** New data committed for a dataset: key ranges and counts only, never samples. */
export interface NewDataSignal {
  datasetId: number;
  batches: BatchDescriptor[];
}
export const newDataSignal = defineSignal<[NewDataSignal]>('newData');

/** Finish the trigger in progress, then complete the pipeline. */
export const stopSignal = defineSignal('stop');

export type TriggerStage = 'selecting' | 'training' | 'storing' | 'evaluating';
/** Sent by a trigger's child workflow to its pipeline as it moves through its stages. */
export const triggerStageSignal = defineSignal<[{ triggerId: number; stage: TriggerStage }]>('triggerStage');

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
