/**
 * Training loop driver for ModelDefinitions fed from batches by the rule of lib/onnx/batch-feeds.ts. The train-step
 * graph runs in a SessionHost worker that keeps parameters, buffers (BatchNorm running stats) and optimizer state
 * between steps; the main thread only pulls batches, posts them in runs of K steps (step-runs.ts; K chosen from the
 * first steps' times unless given), up to MAX_IN_FLIGHT runs ahead of the worker so data loading overlaps compute,
 * and reads back one loss per step. Host-held embedding tables
 * (layers/host-embedding.ts) are kept in the worker too, under their parameter names: each run gathers their rows
 * before the step and applies the row-sparse update after it (host-tables.ts), so checkpoints and the returned
 * state hold them like any parameter. Each step: pull and check a batch, let selectBatch (when given) make the
 * batch to train on, add it to the run; each run: post it, record its losses, checkpoint when due.
 */
import type { Batch } from '../data/batch.js';
import { batchInputs } from '../onnx/batch-feeds.js';
import { modelParameters } from '../onnx/models/build.js';
import { SessionHost, type ExecutionProvider } from '../onnx/session-host.js';
import { BatchSelection } from './batch-selection.js';
import { checkpointDue, stepsBeforeCheckpoint } from './checkpoint-cadence.js';
import { Halt } from './halt.js';
import { hostTensorNames } from './host-tables.js';
import type { ModelState } from './model-state.js';
import { fromTensors, stateNames, storedFeeds, toTensors } from './state-tensors.js';
import { StepRuns } from './step-runs.js';
import type { GradNormStats } from './step-stats.js';
import { checkTrainBatch } from './train-batch.js';
import { checkTrainOptions, type TrainOptions } from './train-options.js';

export type { Forward, ForwardOutputs, SelectBatch } from './batch-selection.js';
export { NonFiniteLossError, type GradNormStats, type TrainProgress } from './step-stats.js';
export type { TrainOptions } from './train-options.js';

export interface TrainResult {
  /** Parameters, buffers and optimizer state after the last step. */
  state: ModelState;
  steps: number;
  /** Samples the steps trained on (with selectBatch: the selected ones). */
  samples: number;
  /** Loss of the last step; 0 when there were no batches. */
  finalLoss: number;
  /** Mean of the per-step losses; 0 when there were no batches. */
  meanLoss: number;
  /** Where the train step ran: 'cpu' after a fallback from 'cuda'. */
  executionProvider: ExecutionProvider;
  /** Steps per session run the call settled on (given, or chosen from the first steps' times); 1 until then. */
  stepsPerRun: number;
  /** Pre-clip global gradient norms of this call's steps; only when the optimizer clips and there were steps. */
  gradNorm?: GradNormStats;
  /** Samples that went through selectBatch's forward passes; 0 without selectBatch. */
  scoredSamples: number;
  /** Wall time spent in selectBatch, its forward passes included, less its wait for the steps before it; 0 without selectBatch. */
  scoringMs: number;
}

/** Runs posted to the worker but not yet finished; 2 keeps it busy through a slow batch fetch. */
const MAX_IN_FLIGHT = 2;

export async function trainModel(opts: TrainOptions): Promise<TrainResult> {
  const { model, optimizer, signal, checkpointEvery } = opts;
  const inputs = batchInputs(model);
  const { params, buffers, hostTables } = modelParameters(model);
  const { rngSeed, stepsPerRun } = checkTrainOptions(opts, params);
  signal?.throwIfAborted();

  const names = stateNames(params, buffers, optimizer);
  const allNames = [...names.params, ...names.buffers, ...names.optimizer];
  const hostNames = hostTensorNames(hostTables, optimizer);
  const graphNames = allNames.filter((n) => !hostNames.has(n));
  const host = opts.host ?? new SessionHost({ executionProvider: opts.executionProvider, deviceId: opts.deviceId, onWarning: opts.onWarning });
  const halt = new Halt();
  const detach = halt.stopOnAbort(signal, (reason) => void host.close(reason));
  const it = opts.batches[Symbol.asyncIterator]();
  let exhausted = false;
  let trainStep: StepRuns | undefined;
  let selection: BatchSelection | undefined;
  try {
    // The state first: its request waits for the worker to start, so opening the sessions times only their creation.
    await halt.race(host.put(toTensors(opts.state, params, buffers, optimizer), { transfer: true }));
    trainStep = await halt.race(StepRuns.open(host, opts, { inputs, rngSeed, stepsPerRun, graphNames, hostTables }));
    selection = opts.selectBatch
      && new BatchSelection(
        host, model, inputs, storedFeeds([...names.params, ...names.buffers].filter((n) => !hostNames.has(n))), trainStep.hostTables,
        opts.selectBatch, trainStep.graphOptions,
      );
    let globalStep = opts.state.step;
    let stepsDone = 0;
    const inFlight: Promise<void>[] = [];
    const settle = async (most: number): Promise<void> => {
      while (inFlight.length > most) await halt.race(inFlight.shift()!);
    };
    /** The batch step `step` of this call trains on; undefined when the batches are exhausted. */
    const pull = async (step: number): Promise<Batch | undefined> => {
      const next = await halt.race(it.next());
      if (next.done) {
        exhausted = true;
        return undefined;
      }
      checkTrainBatch(next.value, model, inputs, `batch for step ${step}`);
      if (!selection) return next.value;
      // Not settled first: the previous step is posted (a run is one step with selectBatch), so the forward queues
      // behind it in the worker and sees the model after it, while the worker stays busy.
      return halt.race(selection.select(next.value, step, Promise.allSettled(inFlight)));
    };

    /** A batch pulled but left for the next run: it has another size than the run it came after. */
    let carried: Batch | undefined;
    for (;;) {
      await halt.race(trainStep.settleStepsPerRun());
      const limit = stepsBeforeCheckpoint(checkpointEvery, stepsDone, trainStep.stepsPerRun);
      const run = trainStep.newRun(limit);
      while (run.batches.length < limit) {
        const batch = carried ?? await pull(stepsDone + run.batches.length + 1);
        carried = undefined;
        if (!batch) break;
        if (!run.accepts(batch)) {
          carried = batch;
          break;
        }
        run.add(batch);
      }
      const steps = run.batches.length;
      if (steps === 0) break;
      const done = trainStep.post(run, stepsDone + 1, globalStep);
      globalStep += steps;
      stepsDone += steps;
      done.catch(halt.stop);
      inFlight.push(done);
      const onCheckpoint = checkpointDue(checkpointEvery, stepsDone) ? opts.onCheckpoint : undefined;
      // Queued right behind this run, so the snapshot is exactly the state after it.
      const snapshot = onCheckpoint && host.get(allNames);
      snapshot?.catch(() => {});
      await settle(snapshot ? 0 : MAX_IN_FLIGHT);
      if (snapshot) await halt.race(onCheckpoint!(fromTensors(await halt.race(snapshot), names, globalStep, rngSeed), stepsDone));
    }
    await settle(0);
    const { stats } = trainStep;
    return {
      state: fromTensors(await halt.race(host.get(allNames, { take: true })), names, globalStep, rngSeed),
      steps: stepsDone, samples: stats.samples, finalLoss: stats.finalLoss, meanLoss: stats.meanLoss,
      executionProvider: trainStep.executionProvider, stepsPerRun: trainStep.stepsPerRun, ...(stats.gradNorm && { gradNorm: stats.gradNorm }),
      scoredSamples: selection?.scoredSamples ?? 0, scoringMs: selection?.scoringMs ?? 0,
    };
  } finally {
    detach();
    if (!opts.host) await host.close();
    // A failed call's state stays in the shared host's store until the next call puts its own over it.
    else await Promise.all([trainStep?.release(), selection?.release()]).catch(() => {});
    if (!exhausted) void it.return?.()?.catch(() => {});
  }
}
