/**
 * Runs of the train step in the worker: a run of one batch goes to the single-step graph, with the batch's own
 * buffers; with stepsPerRun above 1, runs go to the multi-step one (multi-step.ts), their batches stacked as they
 * arrive (stacked-batches.ts), except for models with host tables (see `sequentialRuns`). With stepsPerRun left to
 * choose, the first runs are timed until K is settled (steps-per-run.ts). Each run's updated parameters, buffers and optimizer state stay in the worker, under the names
 * they were fed from, and its losses go to the step statistics.
 */
import type { Batch } from '../data/batch.js';
import { batchBufferRecycler } from '../data/batch-buffers.js';
import type { HostTable } from '../onnx/autodiff/tape.js';
import type { BatchInputs } from '../onnx/batch-feeds.js';
import { buildTrainStep, type TrainStepOptions } from '../onnx/models/build.js';
import { buildMultiStepTrainStep } from '../onnx/models/multi-step.js';
import { nchwcBlock } from '../onnx/nchwc-block.js';
import { GRAD_NORM_OUTPUT } from '../onnx/optimizers.js';
import { intraOpThreadOptions, type HostedSession, type HostTableRun, type RunOptions, type SessionHost, type SessionOptions } from '../onnx/session-host.js';
import type { Request } from '../onnx/session-protocol.js';
import { hostTableRuns } from './host-tables.js';
import { StackedBatches, StackPool } from './stacked-batches.js';
import { storedFeeds } from './state-tensors.js';
import { learningRateFeeds, multiStepFeeds, singleStepFeeds, type StepFeedsConfig } from './step-feeds.js';
import { StepsPerRunProbe } from './steps-per-run.js';
import { StepStats } from './step-stats.js';
import { trainBatchFeeds } from './train-batch.js';
import type { TrainOptions } from './train-options.js';

export interface StepRunsConfig {
  inputs: BatchInputs;
  rngSeed: number;
  /** A fixed K, or 'auto' to time the first steps and choose. */
  stepsPerRun: number | 'auto';
  /** The stored tensors the graph takes and updates: all but host tables and their optimizer state. */
  graphNames: string[];
  hostTables: HostTable[];
}

/**
 * Whether runs of K are K single-step runs in one request to the worker (one round trip, not K) rather than one run
 * of the multi-step graph: with host tables, each step's rows are gathered from the tables as the step before left
 * them, which a Scan inside one run cannot do.
 */
const sequentialRuns = (cfg: StepRunsConfig): boolean => cfg.hostTables.length > 0;

/** The batches of one run as they are pulled: one for a single step, up to K stacked for a multi-step run. */
export type RunBatches = Pick<StackedBatches, 'batches' | 'accepts' | 'add'>;

export class StepRuns {
  readonly stats: StepStats;
  /** How the worker gathers and updates the model's host tables (none: empty). */
  readonly hostTables: readonly HostTableRun[];
  private readonly feeds: StepFeedsConfig;
  private readonly runOptions: RunOptions;
  private probe: StepsPerRunProbe | undefined;
  private readonly stacks = new StackPool();
  private readonly sequential: boolean;

  private constructor(
    private readonly host: SessionHost,
    private readonly opts: TrainOptions,
    private readonly sessionOptions: SessionOptions,
    /** How the train step's graphs are built on this machine (NCHWc convs), for the other graphs the trainer runs. */
    readonly graphOptions: TrainStepOptions,
    private readonly single: HostedSession,
    private multi: HostedSession | undefined,
    /** K when given; undefined when the probe chooses it. */
    private readonly k: number | undefined,
    /** How long creating the single-step session took: what a multi-step session is expected to cost. */
    private readonly setupMs: number,
    cfg: StepRunsConfig,
  ) {
    const { model, optimizer } = opts;
    this.sequential = sequentialRuns(cfg);
    const clipping = optimizer.clipGradNorm !== undefined && single.outputNames.includes(GRAD_NORM_OUTPUT);
    this.stats = new StepStats(clipping ? optimizer.clipGradNorm : undefined, opts.onProgress);
    this.hostTables = hostTableRuns(cfg.hostTables, optimizer);
    this.feeds = {
      model, inputs: cfg.inputs, stored: storedFeeds(cfg.graphNames), learningRates: learningRateFeeds(optimizer, opts),
      rngSeed: cfg.rngSeed, takesRngSeed: single.inputNames.includes('rng_seed'),
    };
    this.runOptions = {
      fetch: this.stats.fetch, keep: Object.fromEntries(cfg.graphNames.map((n) => [`${n}__new`, n])), transfer: true, recycle: batchBufferRecycler,
      tables: this.hostTables,
    };
  }

  /** Creates the train-step sessions: the multi-step one now for a fixed stepsPerRun > 1, later if 'auto' settles on one. */
  static async open(host: SessionHost, opts: TrainOptions, cfg: StepRunsConfig): Promise<StepRuns> {
    const sessionOptions: SessionOptions = opts.intraOpThreads === undefined ? {} : intraOpThreadOptions(opts.intraOpThreads);
    // NCHWc kernels and intra-op threads are the CPU execution provider's; a CUDA session runs plain Convs.
    const graphOptions: TrainStepOptions = opts.executionProvider === 'cuda' ? {} : { nchwcBlock: await nchwcBlock(), intraOpThreads: opts.intraOpThreads };
    const started = performance.now();
    const single = await host.createSession(buildTrainStep(opts.model, opts.optimizer, graphOptions), sessionOptions);
    // Sequential runs need no second session: the probe need not repay one.
    const setupMs = sequentialRuns(cfg) ? 0 : performance.now() - started;
    const k = cfg.stepsPerRun === 'auto' ? undefined : cfg.stepsPerRun;
    const multi = k !== undefined && k > 1 && !sequentialRuns(cfg)
      ? await host.createSession(buildMultiStepTrainStep(opts.model, opts.optimizer, graphOptions), sessionOptions) : undefined;
    return new StepRuns(host, opts, sessionOptions, graphOptions, single, multi, k, setupMs, cfg);
  }

  /** Where the train step runs: 'cpu' after a fallback from 'cuda'. */
  get executionProvider(): HostedSession['executionProvider'] {
    return this.single.executionProvider;
  }

  /** Steps the next run may take: the given K, or the probe's (1 until it has timed single steps). */
  get stepsPerRun(): number {
    return this.k ?? this.probe?.stepsPerRun ?? 1;
  }

  /**
   * Between runs: has the multi-step session when the probe puts a K above 1 on trial, and releases it when the
   * probe settles on 1 after all.
   */
  async settleStepsPerRun(): Promise<void> {
    if (this.k !== undefined || !this.probe || this.sequential) return;
    const k = this.probe.stepsPerRun;
    if (k > 1 && !this.multi) this.multi = await this.host.createSession(buildMultiStepTrainStep(this.opts.model, this.opts.optimizer, this.graphOptions), this.sessionOptions);
    if (k === 1 && this.multi) {
      const multi = this.multi;
      this.multi = undefined;
      await multi.release();
    }
  }

  /** Releases the train-step sessions, for a host that outlives the training call. */
  async release(): Promise<void> {
    await Promise.all([this.single.release(), this.multi?.release()]);
  }

  /** An empty run that takes up to `limit` batches. */
  newRun(limit: number): RunBatches {
    const k = this.stepsPerRun;
    if (k > 1 && !this.sequential) return new StackedBatches(k, limit, (b) => trainBatchFeeds(b, this.feeds.model, this.feeds.inputs), this.stacks);
    const batches: Batch[] = [];
    return { batches, accepts: () => batches.length < Math.min(k, limit), add: (b) => void batches.push(b) };
  }

  /**
   * Posts `run` after `stepsBefore` global steps, its first batch being step `first` of this call; resolves once its
   * losses are recorded. A single step's batch buffers are transferred to the worker, as are a stacked run's arrays.
   */
  post(run: RunBatches, first: number, stepsBefore: number): Promise<void> {
    const [batch] = run.batches;
    if (this.k === undefined) this.probe ??= new StepsPerRunProbe(this.setupMs, stepBytes(trainBatchFeeds(batch!, this.feeds.model, this.feeds.inputs)), !this.sequential);
    let done: Promise<void>;
    if (run instanceof StackedBatches) done = this.postStacked(run, first, stepsBefore);
    else {
      const outputs = run.batches.length === 1
        ? this.single.run(singleStepFeeds(this.feeds, batch!, stepsBefore), this.runOptions)
        : this.single.runSteps(run.batches.map((b, j) => singleStepFeeds(this.feeds, b, stepsBefore + j)), { ...this.runOptions, fetch: this.stats.fetch });
      done = outputs.then((out) => this.stats.record(run.batches, first, out));
    }
    const { probe } = this;
    return probe && !probe.settled ? done.then(() => probe.finished(performance.now(), run.batches.length)) : done;
  }

  /**
   * A full stack moves into the worker's store with the batches' own buffers, is fed from there, and is taken back
   * for the pool right after the run (three requests, processed in order); a stack cut short is fed as copies of its
   * filled slots.
   */
  private postStacked(run: StackedBatches, first: number, stepsBefore: number): Promise<void> {
    const full = run.full;
    const stack = run.feeds();
    if (full) {
      const tensors = Object.fromEntries(Object.entries(stack).map(([name, t]) => [STACK_PREFIX + name, t]));
      const buffers = [...Object.values(stack).map((t) => t.data.buffer as ArrayBuffer), ...run.copyBuffers()];
      // A failed put fails the run queued after it, which reports the error.
      this.host.request({ op: 'put', tensors } satisfies Request, buffers).catch(() => {});
    }
    const batchFeeds = full ? Object.fromEntries(Object.keys(stack).map((n) => [n, { stored: STACK_PREFIX + n }])) : stack;
    const feeds = multiStepFeeds(this.feeds, batchFeeds, run.batches.length, stepsBefore);
    const done = this.multi!.run(feeds, this.runOptions).then((out) => this.stats.record(run.batches, first, out));
    if (full) {
      const names = Object.keys(stack);
      this.host.get(names.map((n) => STACK_PREFIX + n), { take: true })
        .then((back) => this.stacks.give(Object.fromEntries(names.map((n) => [n, back[STACK_PREFIX + n]!]))), () => {});
    }
    return done;
  }
}

/** Where a full stack waits in the worker's store for its run. */
const STACK_PREFIX = 'stack/';

function stepBytes(feeds: Record<string, { data: ArrayBufferView }>): number {
  return Object.values(feeds).reduce((sum, f) => sum + f.data.byteLength, 0);
}
