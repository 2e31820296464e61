import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { TrainHeartbeat } from '../activities/training.js';

/** Live progress of the trigger in training, from its training activity's last heartbeat. */
export interface TrainingProgress {
  triggerId: number;
  epoch?: number;
  epochs?: number;
  stepsDone: number;
  totalSteps?: number;
  loss?: number;
  samplesPerS?: number;
}

/** The trigger a pipeline's `current` names while it trains, e.g. "trigger 3: training". */
const TRAINING = /^trigger (\d+): training/;

/**
 * The progress of the trigger `current` says is training: describes its child workflow (`<pipeline>/trigger-<n>`)
 * and decodes the heartbeat of its pending training activity. Undefined when nothing trains or nothing was
 * heartbeated yet.
 */
export async function readTrainingProgress(client: Client, pipeline: string, current: string): Promise<TrainingProgress | undefined> {
  const training = TRAINING.exec(current);
  if (!training) return undefined;
  const triggerId = Number(training[1]);
  const description = await client.workflow.getHandle(`${pipeline}/trigger-${triggerId}`).describe().catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  });
  const activity = description?.raw.pendingActivities?.find((a) => a.activityType?.name === 'trainModel');
  let payloads = activity?.heartbeatDetails?.payloads;
  if (!payloads || payloads.length === 0) return undefined;
  const { payloadConverter, payloadCodecs } = client.options.loadedDataConverter;
  for (const codec of [...payloadCodecs].reverse()) payloads = await codec.decode(payloads);
  const heartbeat = payloadConverter.fromPayload<TrainHeartbeat>(payloads[0]!);
  const { epoch, epochs, stepsDone, totalSteps, loss, samplesPerS } = heartbeat;
  return { triggerId, epoch, epochs, stepsDone, totalSteps, loss, samplesPerS };
}

const count = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** One line, e.g. "training trigger 3: epoch 2/5, step 140/350, loss 0.412, 3,210 samples/s"; parts not heartbeated are left out. */
export function formatTrainingProgress(p: TrainingProgress): string {
  const of = (done: number, total: number | undefined) => (total === undefined ? String(done) : `${done}/${total}`);
  const parts = [
    p.epoch !== undefined && `epoch ${of(p.epoch, p.epochs)}`,
    `step ${of(p.stepsDone, p.totalSteps)}`,
    p.loss !== undefined && `loss ${p.loss.toFixed(3)}`,
    p.samplesPerS !== undefined && `${count.format(p.samplesPerS)} samples/s`,
  ].filter((part): part is string => typeof part === 'string');
  return `training trigger ${p.triggerId}: ${parts.join(', ')}`;
}
