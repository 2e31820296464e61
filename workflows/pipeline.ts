import {
  allHandlersFinished, ApplicationFailure, condition, continueAsNew, executeChild, log, setHandler, upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RegisteredPipeline } from '../activities/pipeline.js';
import type { BatchDescriptor } from '../policies/batches.js';
import { parseSpec, SpecError, type PipelineSpec, type PipelineSpecInput } from '../policies/spec.js';
import { createTriggerPolicy } from '../policies/triggers/index.js';
import type { PolicyEvaluation, TriggerCommand, TriggerEvent } from '../policies/triggers/protocol.js';
import { policyPath } from '../policies/triggers/members.js';
import { cpuActivities, gpuActivities } from './activity-options.js';
import { newDataSchema, newDataSignal, statusQuery, stopSignal, triggerStageSchema, triggerStageSignal, type PipelineStatus } from './messages.js';
import { datasetKey, pipelineKey } from './search-attributes.js';
import { evaluationWorkflow } from './evaluation.js';
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
  /** Commands of the trigger policy not run yet, in order; the first may be running. */
  commands: TriggerCommand[];
  /** Policy evaluations not yet stored. */
  evaluationLog: PolicyEvaluation[];
  nextTrigger: number;
  /** Triggers that trained a model, in order. */
  trained: number[];
  lastModelId: number | null;
  samplesSeen: number;
  lastAccuracy?: number;
  lastNextPeriodAccuracy?: number;
  /** A newData signal arrived that no read of the database has answered yet. */
  newData: boolean;
  stopRequested: boolean;
}

/** State carried by runs of earlier code: cuts were a list of keys, signals carried batches, no evaluations were logged. */
type CarriedState = PipelineState | (Omit<PipelineState, 'commands' | 'evaluationLog' | 'newData'> & { pendingCuts: number[]; inbox: unknown[] });

function upgrade(carried: CarriedState | undefined): PipelineState | undefined {
  if (!carried || !('pendingCuts' in carried)) return carried;
  const { pendingCuts, inbox, ...rest } = carried;
  const commands = pendingCuts.map((lastKey): TriggerCommand => ({ kind: 'cut', lastKey, reason: 'the trigger policy fired' }));
  return { ...rest, commands, evaluationLog: [], newData: inbox.length > 0 };
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

/** Policy evaluations are stored in pages of at most this many, before each trigger and before waiting. */
const EVALUATIONS_PAGE = 100;

/**
 * A continual-training pipeline: a long-running entity workflow, one per pipeline. It takes the pipeline
 * spec as its input, waits for `newData` signals, feeds each batch to the trigger policy as an event, and
 * runs the policy's commands in order (splits and measurements as activities, cuts as one `triggerWorkflow`
 * child per trigger), feeding each result back to the policy before the next batch.
 */
export async function pipelineWorkflow(input: PipelineSpecInput, carried?: CarriedState): Promise<PipelineSummary> {
  let state: PipelineState | undefined = upgrade(carried);
  let newData = state?.newData ?? false;
  let stopRequested = carried?.stopRequested ?? false;
  let current = 'starting';
  setHandler(newDataSignal, (payload: unknown) => {
    const parsed = newDataSchema.safeParse(payload);
    if (!parsed.success) {
      log.warn('newData signal dropped: its payload is not { datasetId: positive integer }', { payload, issues: parsed.error.issues.map((i) => i.message) });
      return;
    }
    if (state && state.registered.datasetId !== parsed.data.datasetId) {
      log.warn(`newData signal for dataset ${parsed.data.datasetId} dropped: this pipeline reads dataset ${state.registered.datasetId}`);
      return;
    }
    newData = true;
  });
  setHandler(stopSignal, () => void (stopRequested = true));
  setHandler(triggerStageSignal, (payload: unknown) => {
    const parsed = triggerStageSchema.safeParse(payload);
    if (parsed.success) current = `trigger ${parsed.data.triggerId}: ${parsed.data.stage}`;
    else log.warn('triggerStage signal dropped: its payload is not { triggerId, stage }', { payload });
  });
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
    pendingTriggers: state?.commands.filter((c) => c.kind === 'cut').length ?? 0,
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
  const policy = createTriggerPolicy(spec.trigger, spec.training.seed);
  const { workflowId } = workflowInfo();

  if (!state) {
    current = 'registering';
    const registered = await cpu.registerPipeline({ name: workflowId, spec });
    upsertSearchAttributes([
      { key: pipelineKey, value: workflowId },
      { key: datasetKey, value: spec.dataset.name },
    ]);
    state = {
      registered, firstKey: null, lastKey: 0, lastCut: 0, triggerState: policy.initialState(), commands: [], evaluationLog: [],
      nextTrigger: 0, trained: [], lastModelId: null, samplesSeen: 0, newData, stopRequested,
    };
  }
  const s = state;
  /** The spec's end of the stream is seen and every command of the policy up to there has run. */
  const reachedEnd = () => spec.until !== undefined && s.lastKey >= spec.until.key && s.commands.length === 0;
  const finished = () => stopRequested || (spec.maxTriggers !== undefined && s.nextTrigger >= spec.maxTriggers) || reachedEnd();

  /** Continues as new when the server suggests it; called wherever the state is whole (between batches and triggers). */
  async function continueAsNewIfSuggested() {
    if (!workflowInfo().continueAsNewSuggested || finished()) return;
    await condition(allHandlersFinished);
    await continueAsNew<typeof pipelineWorkflow>(input, { ...s, newData, stopRequested });
  }

  /** Hands an event to the trigger policy and queues what it asks for. */
  function inform(event: TriggerEvent) {
    const out = policy.step(s.triggerState, event);
    s.triggerState = out.state;
    s.commands.push(...out.commands);
    s.evaluationLog.push(...out.evaluations.map((e) => ({ ...e, policy: e.policy === '' ? 'trigger' : `trigger.${e.policy}` })));
  }

  async function storeEvaluations() {
    while (s.evaluationLog.length > 0) {
      const page = s.evaluationLog.slice(0, EVALUATIONS_PAGE);
      await cpu.recordPolicyEvaluations({ pipelineId: s.registered.pipelineId, evaluations: page });
      s.evaluationLog.splice(0, page.length);
    }
  }

  /** Runs one trigger: the new data since the last cut, up to and including `lastKey`. */
  async function runTrigger(lastKey: number, reason: string): Promise<TriggerEvent> {
    const triggerId = s.nextTrigger;
    const range = { firstKey: s.lastCut + 1, lastKey };
    const finetune = spec.training.initialization === 'finetune';
    current = `trigger ${triggerId}: starting`;
    const result: TriggerResult = await executeChild(triggerWorkflow, {
      workflowId: `${workflowId}/trigger-${triggerId}`,
      args: [{
        spec, pipelineId: s.registered.pipelineId, datasetId: s.registered.datasetId, features: s.registered.features,
        triggerId, range, firstKey: s.firstKey ?? 1, parentModelId: finetune ? s.lastModelId : null, reason,
      }],
    });
    s.lastCut = range.lastKey;
    s.nextTrigger++;
    if (result.modelId === undefined) return { kind: 'triggered', lastKey, model: null };
    s.trained.push(triggerId);
    s.lastModelId = result.modelId;
    s.lastAccuracy = result.accuracy;
    if (result.previousAccuracy !== undefined) s.lastNextPeriodAccuracy = result.previousAccuracy;
    return { kind: 'triggered', lastKey, model: { modelId: result.modelId, samples: result.numSelected, trainingMs: result.trainingMs ?? 0 } };
  }

  async function run(command: TriggerCommand): Promise<TriggerEvent> {
    switch (command.kind) {
      case 'split':
        return { kind: 'split', tag: command.tag, segments: await cpu.splitBatch({ batch: command.batch, boundaries: command.at }) };
      case 'measure': {
        current = `measuring (${command.request.kind})`;
        const args = { pipelineId: s.registered.pipelineId, datasetId: s.registered.datasetId, policy: policyPath(spec.trigger, command.tag), request: command.request };
        const result = command.request.kind === 'dataTime' ? await cpu.measureData(args) : await gpu.measureModel(args);
        return { kind: 'measured', tag: command.tag, result };
      }
      case 'cut':
        if (s.evaluationLog.length > 0) await storeEvaluations();
        return runTrigger(command.lastKey, command.reason);
    }
  }

  /** Runs the policy's commands until it asks for nothing more, or the pipeline is finished. */
  async function runCommands() {
    while (s.commands.length > 0 && !finished()) {
      const command = s.commands[0]!;
      const event = await run(command);
      s.commands.shift();
      inform(event);
      if (s.evaluationLog.length >= EVALUATIONS_PAGE) await storeEvaluations();
      if (command.kind === 'cut') await continueAsNewIfSuggested();
    }
  }

  async function feed(batch: BatchDescriptor) {
    s.firstKey ??= batch.firstKey;
    s.lastKey = batch.lastKey;
    s.samplesSeen += batch.count;
    inform({ kind: 'data', batch });
    await runCommands();
  }

  /**
   * The batch, or the part of it up to the spec's end of the stream: keys follow sample time within a batch, so
   * that part is a prefix in time too, and one measurement of it gives its count and time span.
   */
  async function upToEnd(batch: BatchDescriptor): Promise<BatchDescriptor> {
    const end = spec.until?.key;
    if (end === undefined || batch.lastKey <= end) return batch;
    if (batch.firstKey > end) {
      throw ApplicationFailure.nonRetryable(`until.key ${end} lies before the pipeline's data (its next batch starts at key ${batch.firstKey})`, 'InvalidSpec');
    }
    const range = { firstKey: batch.firstKey, lastKey: end };
    const measured = await cpu.measureData({ pipelineId: s.registered.pipelineId, datasetId: s.registered.datasetId, policy: 'until', request: { kind: 'dataTime', range } });
    if (measured.kind !== 'dataTime') throw new Error(`measureData answered ${measured.kind}`);
    return { ...batch, ...range, count: measured.count, minTs: measured.minTs, maxTs: measured.maxTs };
  }

  /** Reads committed batches after the last key from the database, for a late start or a missed signal. */
  async function catchUp() {
    current = 'catching up';
    for (;;) {
      if (reachedEnd()) return;
      const page = await cpu.listNewBatches({ datasetId: s.registered.datasetId, afterKey: s.lastKey, limit: CATCH_UP_PAGE });
      for (const batch of page) {
        if (batch.firstKey !== s.lastKey + 1) break;
        await feed(await upToEnd(batch));
        if (finished()) return;
        await continueAsNewIfSuggested();
      }
      if (page.length < CATCH_UP_PAGE) return;
    }
  }

  /** Answers newData signals: each asks for one read of the database, however many arrived meanwhile. */
  async function readSignalledData() {
    while (newData && !finished()) {
      newData = false;
      await catchUp();
    }
  }

  // Commands carried through continue-as-new are answered before new data reaches the policy; then every
  // run starts from the database: a late start, or a continue-as-new in the middle of a catch-up.
  await runCommands();
  await catchUp();
  for (;;) {
    await runCommands();
    await readSignalledData();
    if (finished()) break;
    await storeEvaluations();
    await continueAsNewIfSuggested();
    current = 'waiting for data';
    const woke = await condition(() => newData || stopRequested, CATCH_UP_EVERY);
    if (!woke) await catchUp();
  }

  await storeEvaluations();
  if (s.trained.length > 0 && s.lastKey > s.lastCut) {
    current = 'evaluating the data after the last trigger';
    const intervalId = s.nextTrigger;
    const evaluated = await gpu.evaluateModels({
      pipelineId: s.registered.pipelineId,
      datasetId: s.registered.datasetId,
      scope: { trailing: { intervalId, firstKey: s.lastCut + 1, lastKey: s.lastKey } },
      batchSize: spec.evaluation.batchSize,
      metrics: spec.evaluation.metrics,
      models: spec.evaluation.models,
    });
    if (evaluated.newestAccuracy !== undefined) s.lastNextPeriodAccuracy = evaluated.newestAccuracy;
  }
  if (s.trained.length > 0) {
    for (const [i, request] of spec.evaluation.afterPipeline.entries()) {
      current = `evaluating in sample time (${request.strategy.kind}${request.dataset ? ` on ${request.dataset}` : ''})`;
      await executeChild(evaluationWorkflow, {
        workflowId: `${workflowId}/after-pipeline-${i}`,
        args: [{ pipelineId: s.registered.pipelineId, request, metrics: spec.evaluation.metrics, batchSize: spec.evaluation.batchSize, queues: spec.queues }],
      });
    }
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
