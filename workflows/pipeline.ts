import {
  allHandlersFinished, ApplicationFailure, condition, continueAsNew, executeChild, setHandler, upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RegisteredPipeline } from '../activities/pipeline.js';
import type { BatchDescriptor } from '../policies/batches.js';
import { cellsForTrailingInterval } from '../policies/evaluation/matrix.js';
import { parseSpec, SpecError, type PipelineSpec, type PipelineSpecInput } from '../policies/spec.js';
import { createTriggerPolicy } from '../policies/triggers/index.js';
import { cpuActivities, gpuActivities } from './activity-options.js';
import { newDataSignal, statusQuery, stopSignal, triggerStageSignal, type PipelineStatus } from './messages.js';
import { datasetKey, pipelineKey } from './search-attributes.js';
import { triggerWorkflow, type TriggerResult } from './trigger.js';

/** Everything a pipeline knows, carried through continue-as-new: plain JSON, O(triggers) at most. */
export interface PipelineState {
  registered: RegisteredPipeline;
  firstKey: number | null;
  /** Last key fed to the trigger policy. */
  lastKey: number;
  /** Last key covered by a completed trigger. */
  lastCut: number;
  triggerState: unknown;
  /** Cuts the policy made whose triggers have not run yet. */
  pendingCuts: number[];
  nextTrigger: number;
  /** Triggers that trained a model, in order. */
  trained: number[];
  lastModelId: number | null;
  samplesSeen: number;
  lastAccuracy?: number;
  lastNextPeriodAccuracy?: number;
  /** Signalled batches not yet processed. */
  inbox: BatchDescriptor[];
  stopRequested: boolean;
}

export interface PipelineSummary {
  pipelineId: number;
  triggers: number;
  models: number;
  samplesSeen: number;
  lastKey: number;
  lastAccuracy?: number;
  lastNextPeriodAccuracy?: number;
}

/** How often an idle pipeline looks in the database for data whose signal it may have missed. */
const CATCH_UP_EVERY = '5 minutes';
const CATCH_UP_PAGE = 500;

/**
 * A continual-training pipeline: a long-running entity workflow, one per pipeline. It takes the
 * pipeline spec as its input, waits for `newData` signals, feeds batch descriptors to the trigger
 * policy, and runs one `triggerWorkflow` child per trigger, one at a time.
 */
export async function pipelineWorkflow(input: PipelineSpecInput, carried?: PipelineState): Promise<PipelineSummary> {
  const inbox: BatchDescriptor[] = carried?.inbox ?? [];
  let stopRequested = carried?.stopRequested ?? false;
  let current = 'starting';
  let state: PipelineState | undefined = carried;
  setHandler(newDataSignal, ({ datasetId, batches }) => {
    if (!state || state.registered.datasetId === datasetId) inbox.push(...batches);
  });
  setHandler(stopSignal, () => void (stopRequested = true));
  setHandler(triggerStageSignal, ({ triggerId, stage }) => void (current = `trigger ${triggerId}: ${stage}`));
  setHandler(statusQuery, (): PipelineStatus => ({
    pipelineId: state?.registered.pipelineId,
    datasetId: state?.registered.datasetId,
    triggers: state?.nextTrigger ?? 0,
    models: state?.trained.length ?? 0,
    samplesSeen: state?.samplesSeen ?? 0,
    lastKey: state?.lastKey ?? 0,
    current,
    lastAccuracy: state?.lastAccuracy,
    lastNextPeriodAccuracy: state?.lastNextPeriodAccuracy,
    pendingTriggers: state?.pendingCuts.length ?? 0,
    stopRequested,
  }));

  let spec: PipelineSpec;
  try {
    spec = parseSpec(input);
  } catch (err) {
    if (err instanceof SpecError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidSpec', err.issues);
    throw err;
  }
  const cpu = cpuActivities(spec);
  const gpu = gpuActivities(spec);
  const policy = createTriggerPolicy(spec.trigger);
  const { workflowId } = workflowInfo();

  if (!state) {
    current = 'registering';
    const registered = await cpu.registerPipeline({ name: workflowId, spec });
    upsertSearchAttributes([
      { key: pipelineKey, value: workflowId },
      { key: datasetKey, value: spec.dataset.name },
    ]);
    state = {
      registered, firstKey: null, lastKey: 0, lastCut: 0, triggerState: policy.initialState(), pendingCuts: [],
      nextTrigger: 0, trained: [], lastModelId: null, samplesSeen: 0, inbox, stopRequested,
    };
  }
  const s = state;
  s.inbox = inbox;
  const finished = () => stopRequested || (spec.maxTriggers !== undefined && s.nextTrigger >= spec.maxTriggers);

  /** Continues as new when the server suggests it; called wherever the state is whole (between batches and triggers). */
  async function continueAsNewIfSuggested() {
    if (!workflowInfo().continueAsNewSuggested || finished()) return;
    await condition(allHandlersFinished);
    await continueAsNew<typeof pipelineWorkflow>(input, { ...s, inbox, stopRequested });
  }

  async function feed(batch: BatchDescriptor) {
    const points = policy.splitPoints(s.triggerState, batch);
    const segments = points.length > 0 ? await cpu.splitBatch({ batch, boundaries: points }) : [batch];
    const { state: triggerState, cuts } = policy.inform(s.triggerState, segments);
    s.triggerState = triggerState;
    s.firstKey ??= batch.firstKey;
    s.lastKey = batch.lastKey;
    s.samplesSeen += batch.count;
    s.pendingCuts.push(...cuts);
  }

  /** Reads committed batches after the last key from the database, for a late start or a missed signal. */
  async function catchUp() {
    current = 'catching up';
    for (;;) {
      const page = await cpu.listNewBatches({ datasetId: s.registered.datasetId, afterKey: s.lastKey, limit: CATCH_UP_PAGE });
      for (const batch of page) {
        if (batch.firstKey !== s.lastKey + 1) break;
        await feed(batch);
        await runPendingTriggers();
        if (finished()) return;
        await continueAsNewIfSuggested();
      }
      if (page.length < CATCH_UP_PAGE) return;
    }
  }

  async function runPendingTriggers() {
    while (s.pendingCuts.length > 0 && !finished()) {
      const triggerId = s.nextTrigger;
      const range = { firstKey: s.lastCut + 1, lastKey: s.pendingCuts[0] };
      const finetune = spec.training.initialization === 'finetune';
      current = `trigger ${triggerId}: starting`;
      const result: TriggerResult = await executeChild(triggerWorkflow, {
        workflowId: `${workflowId}/trigger-${triggerId}`,
        args: [{
          spec, pipelineId: s.registered.pipelineId, datasetId: s.registered.datasetId, features: s.registered.features,
          triggerId, range, firstKey: s.firstKey ?? 1, parentModelId: finetune ? s.lastModelId : null, trainedBefore: s.trained,
        }],
      });
      s.pendingCuts.shift();
      s.lastCut = range.lastKey;
      s.nextTrigger++;
      if (result.modelId !== undefined) {
        const previous = s.trained.at(-1);
        s.trained.push(triggerId);
        s.lastModelId = result.modelId;
        s.lastAccuracy = result.evaluations.find((e) => e.modelTrigger === triggerId && e.intervalId === triggerId)?.accuracy;
        const next = result.evaluations.find((e) => e.modelTrigger === previous && e.intervalId === triggerId);
        if (next) s.lastNextPeriodAccuracy = next.accuracy;
      }
      await continueAsNewIfSuggested();
    }
  }

  async function processInbox() {
    while (inbox.length > 0 && !finished()) {
      const batch = inbox.shift()!;
      if (batch.lastKey <= s.lastKey) continue;
      if (batch.firstKey !== s.lastKey + 1) {
        // A gap or an overlap: the database has the exact batches.
        await catchUp();
        continue;
      }
      await feed(batch);
      await runPendingTriggers();
      await continueAsNewIfSuggested();
    }
  }

  // Every run starts from the database: a late start, or a continue-as-new in the middle of a catch-up.
  await catchUp();
  for (;;) {
    await runPendingTriggers();
    await processInbox();
    if (finished()) break;
    await continueAsNewIfSuggested();
    current = 'waiting for data';
    const woke = await condition(() => inbox.length > 0 || stopRequested, CATCH_UP_EVERY);
    if (!woke) await catchUp();
  }

  if (s.trained.length > 0 && s.lastKey > s.lastCut) {
    current = 'evaluating the data after the last trigger';
    const intervalId = s.nextTrigger;
    const evaluations = await gpu.evaluateModels({
      pipelineId: s.registered.pipelineId,
      datasetId: s.registered.datasetId,
      cells: cellsForTrailingInterval(intervalId, s.trained),
      trailing: { intervalId, firstKey: s.lastCut + 1, lastKey: s.lastKey },
      holdout: { fraction: spec.evaluation.holdoutFraction, seed: spec.training.seed },
      batchSize: spec.evaluation.batchSize,
    });
    const latest = evaluations.find((e) => e.modelTrigger === s.trained.at(-1));
    if (latest) s.lastNextPeriodAccuracy = latest.accuracy;
  }
  current = 'done';
  return {
    pipelineId: s.registered.pipelineId,
    triggers: s.nextTrigger,
    models: s.trained.length,
    samplesSeen: s.samplesSeen,
    lastKey: s.lastKey,
    lastAccuracy: s.lastAccuracy,
    lastNextPeriodAccuracy: s.lastNextPeriodAccuracy,
  };
}
