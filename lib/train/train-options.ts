/** What a trainModel call is given, and the checks it passes before any step. */
import type { Batch } from '../data/batch.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import { checkOptimizer, type OptimizerConfig } from '../onnx/optimizers.js';
import type { ParamSpec } from '../onnx/params.js';
import type { ExecutionProvider, SessionHost } from '../onnx/session-host.js';
import type { SelectBatch } from './batch-selection.js';
import { checkModelState, type ModelState } from './model-state.js';
import { checkSchedule, type ScheduleConfig } from './schedules.js';
import type { TrainProgress } from './step-stats.js';

export interface TrainOptions {
  /**
   * The architecture. It must have exactly one float32 input `[B, ...dims]`: each batch's `x` (row-major
   * `size × features`) is fed to it reshaped to `[size, ...dims]`, so `features` must equal the product of
   * `dims`. It may have one int64 input `[B, n]` too, fed from the batch's `categorical` ids (converted to
   * int64), so `categoricalCount` must equal n. Labels go to `y` as int64 class indices in [0, outputSize) for 'softmax-ce', as float32 0/1 targets
   * for 'bce-logits' and as float32 targets for 'mse'.
   */
  model: ModelDefinition;
  optimizer: OptimizerConfig;
  /**
   * Where training starts. Handed over, as batches are: arrays that own their whole buffer move to the worker and
   * are left detached, so the call holds one copy of the state, not two (41.6M parameters with Adam: 500 MB); the
   * result's state is the one to keep.
   */
  state: ModelState;
  /**
   * Already positioned: the trainer consumes them all, one optimizer step per batch. Batches are handed over:
   * arrays that own their whole buffer are transferred to the worker and left detached (length 0).
   */
  batches: AsyncIterable<Batch>;
  /**
   * Learning rate of each step, given the global optimizer step count before it (ModelState.step, which a
   * resumed state carries over, so a schedule continues seamlessly); default optimizer.lr. Parameter groups
   * get it scaled by their lr / optimizer.lr. Exclusive with `schedule`.
   */
  learningRate?: (step: number) => number;
  /** Learning-rate schedule over the global step, applied to the optimizer's lr and each group's lr. */
  schedule?: ScheduleConfig;
  /**
   * Global step at which the schedule starts; default 0. A model fine-tuned with its parent's optimizer state
   * keeps the parent's step (Adam's bias correction needs it) but starts its schedule afresh.
   */
  scheduleStartStep?: number;
  /**
   * Seeds the `rng_seed` input (dropout masks) of train steps that have one: step t gets rngSeedAt(seed, t).
   * Recorded in the returned and checkpointed states; default: the state's recorded seed, else 0.
   */
  seed?: number;
  /**
   * The session host to train in, left open after the call with this call's sessions released and its state taken
   * out: one host serves every call of a training that trains in parts (the rounds of sample-then-batch selection),
   * which saves starting a worker thread each time (about 120 ms). Default: a host of the call's own, closed at its
   * end, on `executionProvider` and `deviceId`.
   */
  host?: SessionHost;
  /** Default 'cpu'. 'cuda' falls back to the CPU, with one onWarning, when CUDA is unavailable. */
  executionProvider?: ExecutionProvider;
  /** CUDA device ordinal; default 0. */
  deviceId?: number;
  onWarning?: (message: string) => void;
  /** Checkpoint after every this many steps of this call; 0 = never. */
  checkpointEvery: number;
  /**
   * Optimizer steps per session run: K consecutive batches of equal size are stacked as they arrive and run as one
   * ONNX Scan (lib/onnx/models/multi-step.ts), which amortizes the per-run copy and worker round trip for small
   * models. The results are bit-identical to single steps, whatever K. Absent: chosen from the first steps' measured
   * time (steps-per-run.ts) so that a run lasts about 10 ms, and kept only if runs of K turn out faster per step than
   * single steps; 1 for models whose steps are that long already, and for calls too short to repay a second session.
   * Runs never straddle a checkpoint, so the checkpoint cadence and the resumed state are exactly those of single
   * steps; a run cut short (by a checkpoint, the end of the batches or a batch of another size) runs its batches so
   * far. Models with host tables (layers/host-embedding.ts) run K single steps in one request to the worker instead
   * of a Scan (each step's rows are gathered from the tables as the step before left them); batch selection
   * (`selectBatch`) and supplied graphs run single steps when this is absent.
   */
  stepsPerRun?: number;
  /** Intra-op threads of the train-step sessions (blocking between kernels: intraOpThreadOptions); default 1. */
  intraOpThreads?: number;
  /**
   * Awaited (no further steps are posted meanwhile); `stepsDone` = batches consumed by this call. The state
   * holds parameters, buffers and optimizer tensors exactly as they are after that step.
   */
  onCheckpoint?: (state: ModelState, stepsDone: number) => Promise<void>;
  /** Called after every step, in step order. */
  onProgress?: (p: TrainProgress) => void;
  /** Abort rejects at once with the signal's reason; the worker drops queued steps and exits after the run in progress. */
  signal?: AbortSignal;
  /**
   * Batch-then-sample downsampling: each batch the trainer pulls (of B/ratio samples) is first scored with a forward pass
   * of the model as it is now (after the previous step), and the step trains on the batch this returns (B samples with
   * importance weights in `w`).
   */
  selectBatch?: SelectBatch;
}

/** Resolved from the options once they pass the checks. */
export interface CheckedOptions {
  rngSeed: number;
  /** Optimizer steps per run: as asked, 'auto' to choose from measured step times where runs of several steps are possible. */
  stepsPerRun: number | 'auto';
}

/** Throws, naming the option, before any step when the options cannot train; `params`: modelParameters(opts.model)'s. */
export function checkTrainOptions(opts: TrainOptions, params: ParamSpec[]): CheckedOptions {
  const { model, optimizer, state } = opts;
  checkModelState(state, model, optimizer);
  checkOptimizer(optimizer, params.map((s) => s.name));
  if (opts.schedule) checkSchedule(opts.schedule);
  if (opts.schedule && opts.learningRate) throw new Error('trainModel: give learningRate or schedule, not both');
  const rngSeed = opts.seed ?? state.rngSeed ?? 0;
  if (!Number.isInteger(rngSeed) || rngSeed < 0 || rngSeed >= 2 ** 32) throw new Error(`trainModel: seed ${rngSeed} is not a uint32`);
  const { stepsPerRun, intraOpThreads } = opts;
  if (stepsPerRun !== undefined && (!Number.isInteger(stepsPerRun) || stepsPerRun < 1)) {
    throw new Error(`trainModel: stepsPerRun ${stepsPerRun} is not a positive integer`);
  }
  if (intraOpThreads !== undefined && (!Number.isInteger(intraOpThreads) || intraOpThreads < 1)) {
    throw new Error(`trainModel: intraOpThreads ${intraOpThreads} is not a positive integer`);
  }
  if (opts.selectBatch) checkBatchSelection(model, stepsPerRun ?? 1);
  const singleOnly = stepsPerRun === undefined && (opts.selectBatch !== undefined || model.supplied !== undefined);
  return { rngSeed, stepsPerRun: singleOnly ? 1 : stepsPerRun ?? 'auto' };
}

/**
 * Batch-then-sample scores each batch with the derived inference graph fed the stored state, and selects each
 * step's batch after the previous step: a supplied graph has no derived one, and a multi-step run trains on
 * batches all selected before its first step. (The worker gathers host tables' rows for it, as for a step.)
 */
function checkBatchSelection(model: ModelDefinition, stepsPerRun: number): void {
  const refuse = (why: string): Error => new Error(`trainModel: selectBatch (batch-then-sample) ${why}`);
  if (model.supplied) {
    throw refuse(`needs a derived inference graph, but model ${model.architecture} comes as supplied ONNX graphs`);
  }
  if (stepsPerRun > 1) throw refuse(`needs single steps (each batch is selected after the previous step), but stepsPerRun is ${stepsPerRun}`);
}
