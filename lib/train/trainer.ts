/**
 * Training loop driver for ModelDefinitions with one float32 input (fed from each batch's `x`) and at most one
 * int64 input (fed from its `categorical` ids; see batchInputs). The train-step graph runs in a SessionHost worker
 * that keeps parameters, buffers (BatchNorm running stats) and optimizer state between steps; the main thread
 * only pulls batches, posts them (up to MAX_IN_FLIGHT steps ahead of the worker, so data loading overlaps
 * compute) and reads back one loss per step. Host-held embedding tables (layers/host-embedding.ts) are kept in
 * the worker too, under their parameter names: each run gathers their rows before the step and applies the
 * row-sparse update after it (host-tables.ts), so checkpoints and the returned state hold them like any parameter.
 */
import type { Batch } from '../data/batch.js';
import { buildTrainStep, modelParameters } from '../onnx/models/build.js';
import { widenToInt64 } from '../onnx/int64.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import { buildMultiStepTrainStep } from '../onnx/models/multi-step.js';
import { baseLearningRates, checkOptimizer, GRAD_NORM_OUTPUT, optimizerStateNames, type OptimizerConfig } from '../onnx/optimizers.js';
import type { ParamSpec } from '../onnx/params.js';
import { SessionHost, type ExecutionProvider, type Feed, type TensorData } from '../onnx/session-host.js';
import { hostTableRuns, hostTensorNames } from './host-tables.js';
import { checkModelState, type ModelState } from './model-state.js';
import { checkSchedule, learningRatesAt, rngSeedAt, type ScheduleConfig } from './schedules.js';

export interface TrainProgress {
  /** Steps done by this trainModel call, this one included (1-based). */
  step: number;
  /** Samples consumed by this trainModel call so far. */
  samples: number;
  loss: number;
  /** Global gradient norm before clipping; only when the optimizer clips. */
  gradNorm?: number;
}

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
  /** Default 'cpu'. 'cuda' falls back to the CPU, with one onWarning, when CUDA is unavailable. */
  executionProvider?: ExecutionProvider;
  /** CUDA device ordinal; default 0. */
  deviceId?: number;
  onWarning?: (message: string) => void;
  /** Checkpoint after every this many steps of this call; 0 = never. */
  checkpointEvery: number;
  /**
   * Optimizer steps per session run (default 1): K consecutive batches of equal size are stacked and run as
   * one ONNX Loop (lib/onnx/models/multi-step.ts), which amortizes the per-run copy and worker round trip for
   * small models. The results are bit-identical to single steps. Groups never straddle a checkpoint, so the
   * checkpoint cadence and the resumed state are exactly those of single steps; a group cut short (by a
   * checkpoint, the end of the batches or a batch of another size) runs as single steps. Models with host
   * tables (layers/host-embedding.ts) always run single steps, whatever this says: each step's rows are gathered
   * from the tables as the previous step left them, which a Loop inside one run cannot do.
   */
  stepsPerRun?: number;
  /**
   * Awaited (no further steps are posted meanwhile); `stepsDone` = batches consumed by this call. The state
   * holds parameters, buffers and optimizer tensors exactly as they are after that step.
   */
  onCheckpoint?: (state: ModelState, stepsDone: number) => Promise<void>;
  /** Called after every step, in step order. */
  onProgress?: (p: TrainProgress) => void;
  /** Abort rejects at once with the signal's reason; the worker drops queued steps and exits after the run in progress. */
  signal?: AbortSignal;
}

export interface TrainResult {
  /** Parameters, buffers and optimizer state after the last step. */
  state: ModelState;
  steps: number;
  samples: number;
  /** Loss of the last step; 0 when there were no batches. */
  finalLoss: number;
  /** Mean of the per-step losses; 0 when there were no batches. */
  meanLoss: number;
  /** Where the train step ran: 'cpu' after a fallback from 'cuda'. */
  executionProvider: ExecutionProvider;
  /** Pre-clip global gradient norms of this call's steps; only when the optimizer clips and there were steps. */
  gradNorm?: GradNormStats;
}

export interface GradNormStats {
  mean: number;
  max: number;
  /** Steps whose gradients were scaled down (norm above optimizer.clipGradNorm). */
  clippedSteps: number;
}

export class NonFiniteLossError extends Error {
  /** `step` counts the steps of the trainModel call that failed, as TrainProgress.step does. */
  constructor(readonly step: number, readonly loss: number) {
    super(`training loss is ${loss} at step ${step}`);
    this.name = 'NonFiniteLossError';
  }
}

/** Steps posted to the worker but not yet finished; 2 keeps it busy through a slow batch fetch. */
const MAX_IN_FLIGHT = 2;

export async function trainModel(opts: TrainOptions): Promise<TrainResult> {
  const { model, optimizer, signal } = opts;
  const input = batchInputs(model);
  const { params: specs, buffers: bufferSpecs, hostTables } = modelParameters(model);
  checkModelState(opts.state, model, optimizer);
  checkOptimizer(optimizer, specs.map((s) => s.name));
  if (opts.schedule) checkSchedule(opts.schedule);
  if (opts.schedule && opts.learningRate) throw new Error('trainModel: give learningRate or schedule, not both');
  const rngSeed = opts.seed ?? opts.state.rngSeed ?? 0;
  if (!Number.isInteger(rngSeed) || rngSeed < 0 || rngSeed >= 2 ** 32) throw new Error(`trainModel: seed ${rngSeed} is not a uint32`);
  const requestedStepsPerRun = opts.stepsPerRun ?? 1;
  if (!Number.isInteger(requestedStepsPerRun) || requestedStepsPerRun < 1) {
    throw new Error(`trainModel: stepsPerRun ${requestedStepsPerRun} is not a positive integer`);
  }
  const stepsPerRun = hostTables.length > 0 ? 1 : requestedStepsPerRun;
  signal?.throwIfAborted();

  const names = {
    params: specs.map((s) => s.name),
    buffers: bufferSpecs.map((s) => s.name),
    optimizer: specs.flatMap((s) => optimizerStateNames(s.name, optimizer)),
  };
  const allNames = [...names.params, ...names.buffers, ...names.optimizer];
  const hostNames = hostTensorNames(hostTables, optimizer);
  const graphNames = allNames.filter((n) => !hostNames.has(n));
  const tables = hostTableRuns(hostTables, optimizer);
  const learningRates = learningRateFeeds(optimizer, opts);

  const host = new SessionHost({ executionProvider: opts.executionProvider, deviceId: opts.deviceId, onWarning: opts.onWarning });
  // Rejects on abort or on the first failed step, so the loop stops even while it awaits a slow batch.
  // (Not Promise.race against a never-settling promise: each race would leave a reaction on it holding the
  // raced value, e.g. every batch, for the whole call.)
  let haltReason: { error: unknown } | undefined;
  const waiters = new Set<(e: unknown) => void>();
  const halt = (e: unknown): void => {
    haltReason ??= { error: e };
    for (const w of waiters) w(haltReason.error);
    waiters.clear();
  };
  const race = <T>(p: Promise<T>): Promise<T> => new Promise<T>((resolve, reject) => {
    if (haltReason) return reject(haltReason.error);
    waiters.add(reject);
    p.then(
      (v) => { waiters.delete(reject); resolve(v); },
      (e) => { waiters.delete(reject); reject(e); },
    );
  });
  const onAbort = (): void => {
    halt(signal!.reason);
    void host.close(signal!.reason);
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  const it = opts.batches[Symbol.asyncIterator]();
  let exhausted = false;
  try {
    const session = await race(host.createSession(buildTrainStep(model, optimizer)));
    const multiSession = stepsPerRun > 1
      ? await race(host.createSession(buildMultiStepTrainStep(model, optimizer, stepsPerRun))) : undefined;
    await race(host.put(toTensors(opts.state, specs, bufferSpecs, optimizer)));

    const storedFeeds: Record<string, Feed> = Object.fromEntries(graphNames.map((n) => [n, { stored: n }]));
    const keep = Object.fromEntries(graphNames.map((n) => [`${n}__new`, n]));
    const takesRngSeed = session.inputNames.includes('rng_seed');
    const clipping = optimizer.clipGradNorm !== undefined && session.outputNames.includes(GRAD_NORM_OUTPUT);
    const fetch = clipping ? ['loss', GRAD_NORM_OUTPUT] : ['loss'];
    const norms = { sum: 0, max: 0, clipped: 0 };
    const stateAt = (t: Record<string, TensorData>, step: number): ModelState => ({
      ...fromTensors(t, names, step), rngSeed,
    });
    let globalStep = opts.state.step;
    let stepsDone = 0;
    let samples = 0;
    let lossSum = 0;
    let finalLoss = 0;
    const inFlight: Promise<void>[] = [];

    /** Posts one run of `run.length` consecutive steps, the first being step `first` of this call. */
    const post = (run: Batch[], first: number): Promise<void> => {
      const perStep = run.map(() => {
        const lrs = learningRates(globalStep);
        globalStep++;
        return { lrs, step: globalStep };
      });
      let feeds: Record<string, Feed>;
      if (run.length === 1) {
        feeds = { ...storedFeeds, ...batchFeeds(run[0]!, model, input), step: scalar(globalStep) };
        for (const [name, lr] of Object.entries(perStep[0]!.lrs)) feeds[name] = scalar(lr);
        if (takesRngSeed) feeds.rng_seed = scalar(rngSeedAt(rngSeed, globalStep));
      } else {
        feeds = { ...storedFeeds, ...stackFeeds(run.map((b) => batchFeeds(b, model, input))), step: vector(perStep.map((p) => p.step)) };
        for (const name of Object.keys(perStep[0]!.lrs)) feeds[name] = vector(perStep.map((p) => p.lrs[name]!));
        feeds.rng_seed = vector(perStep.map((p) => rngSeedAt(rngSeed, p.step)));
      }
      const target = run.length === 1 ? session : multiSession!;
      return target.run(feeds, { fetch, keep, transfer: true, tables }).then((out) => {
        const losses = out.loss!.data as Float32Array;
        const gradNorms = clipping ? (out[GRAD_NORM_OUTPUT]!.data as Float32Array) : undefined;
        run.forEach((batch, j) => {
          const loss = losses[j]!;
          if (!Number.isFinite(loss)) throw new NonFiniteLossError(first + j, loss);
          samples += batch.size;
          lossSum += loss;
          finalLoss = loss;
          const gradNorm = gradNorms?.[j];
          if (gradNorm !== undefined) {
            norms.sum += gradNorm;
            norms.max = Math.max(norms.max, gradNorm);
            // The graph's clip coefficient min(1, max/(norm + 1e-6)) is below 1.
            if (optimizer.clipGradNorm! < gradNorm + 1e-6) norms.clipped++;
          }
          opts.onProgress?.({ step: first + j, samples, loss, ...(gradNorm !== undefined && { gradNorm }) });
        });
      });
    };

    while (!exhausted) {
      // A group never crosses a checkpoint, so checkpoints fall on exactly the steps they would without grouping.
      const untilCheckpoint = opts.checkpointEvery > 0 ? opts.checkpointEvery - (stepsDone % opts.checkpointEvery) : stepsPerRun;
      const limit = Math.min(stepsPerRun, untilCheckpoint);
      const group: Batch[] = [];
      while (group.length < limit) {
        const next = await race(it.next());
        if (next.done) {
          exhausted = true;
          break;
        }
        checkBatch(next.value, model, input, stepsDone + group.length + 1);
        group.push(next.value);
      }
      if (group.length === 0) break;
      const stacked = multiSession !== undefined && group.length === stepsPerRun && group.every((b) => b.size === group[0]!.size);
      for (const run of stacked ? [group] : group.map((b) => [b])) {
        const done = post(run, stepsDone + 1);
        stepsDone += run.length;
        done.catch(halt);
        inFlight.push(done);
        const onCheckpoint = opts.checkpointEvery > 0 && stepsDone % opts.checkpointEvery === 0 ? opts.onCheckpoint : undefined;
        // Queued right behind this run, so the snapshot is exactly the state after it.
        const snapshot = onCheckpoint && host.get(allNames);
        snapshot?.catch(() => {});
        while (inFlight.length > (snapshot ? 0 : MAX_IN_FLIGHT)) await race(inFlight.shift()!);
        if (snapshot) await race(onCheckpoint!(stateAt(await race(snapshot), globalStep), stepsDone));
      }
    }
    while (inFlight.length > 0) await race(inFlight.shift()!);
    const final = stateAt(await race(host.get(allNames, { take: true })), globalStep);
    const gradNorm = clipping && stepsDone ? { mean: norms.sum / stepsDone, max: norms.max, clippedSteps: norms.clipped } : undefined;
    return {
      state: final, steps: stepsDone, samples, finalLoss, meanLoss: stepsDone ? lossSum / stepsDone : 0,
      executionProvider: session.executionProvider, ...(gradNorm && { gradNorm }),
    };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await host.close();
    if (!exhausted) void it.return?.()?.catch(() => {});
  }
}

/**
 * Value of every learning-rate input (`lr`, `lr__<i>`) for the step after `step` global steps. A `learningRate`
 * callback gives the base rate and groups keep their ratio to it (exactly 1 for groups without their own lr).
 */
function learningRateFeeds(opt: OptimizerConfig, opts: TrainOptions): (step: number) => Record<string, number> {
  const { learningRate, schedule, scheduleStartStep = 0 } = opts;
  if (!learningRate) return (step) => learningRatesAt(opt, schedule, step - scheduleStartStep);
  const bases = Object.entries(baseLearningRates(opt));
  return (step) => {
    const lr = learningRate(step);
    return Object.fromEntries(bases.map(([name, base]) => [name, base === opt.lr ? lr : lr * (base / opt.lr)]));
  };
}

/** The model inputs a batch feeds: `x` to the float32 one, `categorical` (as int64) to the int64 one; at least one. */
export interface BatchInputs {
  /** The float32 input fed from `x`, with its non-batch dims and their product; absent → batches carry no features. */
  float?: { name: string; dims: number[]; features: number };
  /** The int64 input [B, categorical] fed from `categorical`. */
  ids?: { name: string; categorical: number };
}

/**
 * The feeding rule for training and evaluation from a Batch: at most one float32 input [B, ...fixed dims] (fed
 * from `x`) and at most one int64 input [B, n] (fed from `categorical`, n = categoricalCount), at least one of
 * them (a model with only the int64 input, such as the text classifier, takes batches of 0 features). Any other
 * input set is refused up front; `who` prefixes the message.
 */
export function batchInputs(def: Pick<ModelDefinition, 'architecture' | 'inputs'>, who = 'trainModel'): BatchInputs {
  const names = def.inputs.map((i) => `${i.name} (${i.dtype})`).join(', ');
  const refuse = (why: string): Error => new Error(
    `${who}: model ${def.architecture} has ${def.inputs.length} input${def.inputs.length === 1 ? '' : 's'} (${names}); ${why}`,
  );
  const floats = def.inputs.filter((i) => i.dtype === 'float32');
  const ints = def.inputs.filter((i) => i.dtype === 'int64');
  if (floats.length > 1 || ints.length > 1 || floats.length + ints.length !== def.inputs.length || def.inputs.length === 0) {
    throw refuse('batches feed one float32 input from x and at most one int64 input from categorical, or the int64 input alone');
  }
  const inputs: BatchInputs = {};
  if (floats.length === 1) {
    const { name, dtype, shape } = floats[0]!;
    const [batchDim, ...rest] = shape;
    const dims = rest.filter((d): d is number => typeof d === 'number' && Number.isInteger(d) && d > 0);
    if (batchDim !== 'B' || dims.length !== rest.length) {
      throw new Error(`${who}: model ${def.architecture} input '${name}' is ${dtype} [${shape.join(', ')}]; batches feed float32 [B, ...fixed dims]`);
    }
    inputs.float = { name, dims, features: dims.reduce((a, b) => a * b, 1) };
  }
  if (ints.length === 0) return inputs;
  const id = ints[0]!;
  const width = id.shape[1];
  if (id.shape.length !== 2 || id.shape[0] !== 'B' || typeof width !== 'number' || !Number.isInteger(width) || width < 1) {
    throw new Error(`${who}: model ${def.architecture} input '${id.name}' is int64 [${id.shape.join(', ')}]; batches feed int64 [B, categoricalCount]`);
  }
  inputs.ids = { name: id.name, categorical: width };
  return inputs;
}

/** Checks a batch's `x` and `categorical` against the inputs they feed; `bad` wraps the reason. */
export function checkBatchInputs(b: Batch, inputs: BatchInputs, bad: (why: string) => Error): void {
  const { float, ids } = inputs;
  const features = float?.features ?? 0;
  if (b.features !== features) {
    throw bad(float
      ? `${b.features} features, but model input '${float.name}' [B, ${float.dims.join(', ')}] takes ${float.features} per sample`
      : `${b.features} features, but the model has no float32 input (it takes categorical ids only)`);
  }
  if (b.x.length !== b.size * b.features) throw bad(`x has ${b.x.length} values for ${b.size}×${b.features}`);
  if (!ids) return;
  if (!b.categorical) {
    throw bad(`model input '${ids.name}' takes ${ids.categorical} categorical ids per sample, but the batch has no categorical ids (the dataset format has no categorical fields)`);
  }
  const count = b.categoricalCount ?? (b.size > 0 ? b.categorical.length / b.size : 0);
  if (count !== ids.categorical) {
    throw bad(`${count} categorical ids per sample, but model input '${ids.name}' [B, ${ids.categorical}] takes ${ids.categorical}`);
  }
  if (b.categorical.length !== b.size * count) throw bad(`categorical has ${b.categorical.length} values for ${b.size}×${count}`);
}

/** The input feeds of a checked batch: `x` reshaped, and `categorical` widened to int64 (a fresh buffer). */
export function inputFeeds(b: Batch, inputs: BatchInputs): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  if (inputs.float) feeds[inputs.float.name] = { type: 'float32', dims: [b.size, ...inputs.float.dims], data: b.x };
  if (inputs.ids) {
    feeds[inputs.ids.name] = { type: 'int64', dims: [b.size, inputs.ids.categorical], data: widenToInt64(b.categorical!) };
  }
  return feeds;
}

function checkBatch(b: Batch, def: ModelDefinition, inputs: BatchInputs, step: number): void {
  const bad = (why: string): Error => new Error(`batch for step ${step}: ${why}`);
  checkBatchInputs(b, inputs, bad);
  if (b.y.length !== b.size || b.w.length !== b.size) throw bad(`y/w lengths ${b.y.length}/${b.w.length} for size ${b.size}`);
  if (def.loss === 'softmax-ce') {
    for (const label of b.y) if (label < 0 || label >= def.outputSize) throw bad(`label ${label} outside [0, ${def.outputSize})`);
  } else if (def.loss === 'bce-logits') {
    for (const label of b.y) if (label !== 0 && label !== 1) throw bad(`label ${label} is not a binary target 0 or 1 (bce-logits)`);
  }
}

/** The inputs fed from `x` and `categorical`; `y` as int64 class indices for softmax-ce, else as float32 targets. */
function batchFeeds(b: Batch, def: ModelDefinition, inputs: BatchInputs): Record<string, TensorData> {
  let y: TensorData;
  if (def.loss === 'softmax-ce') {
    y = { type: 'int64', dims: [b.size], data: widenToInt64(b.y) };
  } else {
    y = { type: 'float32', dims: [b.size], data: Float32Array.from(b.y) };
  }
  return {
    ...inputFeeds(b, inputs),
    y,
    w: { type: 'float32', dims: [b.size], data: b.w },
  };
}

function scalar(v: number): TensorData {
  return { type: 'float32', dims: [], data: Float32Array.of(v) };
}

function vector(v: number[]): TensorData {
  return { type: 'float32', dims: [v.length], data: Float32Array.from(v) };
}

/** Each feed of equally shaped per-step feeds, stacked along a new leading dim (a fresh buffer, transferable). */
function stackFeeds(steps: Record<string, TensorData>[]): Record<string, TensorData> {
  return Object.fromEntries(Object.entries(steps[0]!).map(([name, first]) => {
    const parts = steps.map((s) => s[name]!.data);
    const data = new (first.data.constructor as new (n: number) => typeof first.data)(parts.reduce((a, p) => a + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      (data as Float32Array).set(p as Float32Array, offset);
      offset += p.length;
    }
    return [name, { type: first.type, dims: [steps.length, ...first.dims], data } as TensorData];
  }));
}

function toTensors(state: ModelState, params: ParamSpec[], buffers: ParamSpec[], opt: OptimizerConfig): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  const add = (name: string, dims: number[], data: Float32Array) => { out[name] = { type: 'float32', dims, data }; };
  for (const s of params) {
    add(s.name, s.shape, state.params[s.name]!);
    for (const n of optimizerStateNames(s.name, opt)) add(n, s.shape, state.optimizer[n]!);
  }
  for (const s of buffers) add(s.name, s.shape, state.buffers[s.name]!);
  return out;
}

function fromTensors(
  t: Record<string, TensorData>, names: { params: string[]; buffers: string[]; optimizer: string[] }, step: number,
): ModelState {
  const pick = (group: string[]) => Object.fromEntries(group.map((n) => [n, t[n]!.data as Float32Array]));
  return { params: pick(names.params), buffers: pick(names.buffers), optimizer: pick(names.optimizer), step };
}
