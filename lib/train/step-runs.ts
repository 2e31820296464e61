/**
 * Runs of the train step in the worker: a run of one step goes to the single-step graph, a run of `stepsPerRun`
 * equally sized steps to the multi-step one (multi-step.ts), which takes them stacked as one ONNX Loop. Each run's
 * updated parameters, buffers and optimizer state stay in the worker, under the names they were fed from, and
 * its losses go to the step statistics.
 */
import type { Batch } from '../data/batch.js';
import type { HostTable } from '../onnx/autodiff/tape.js';
import type { BatchInputs } from '../onnx/batch-feeds.js';
import { buildTrainStep } from '../onnx/models/build.js';
import { buildMultiStepTrainStep } from '../onnx/models/multi-step.js';
import { GRAD_NORM_OUTPUT } from '../onnx/optimizers.js';
import type { HostedSession, RunOptions, SessionHost } from '../onnx/session-host.js';
import { hostTableRuns } from './host-tables.js';
import { storedFeeds } from './state-tensors.js';
import { learningRateFeeds, stepFeeds, type StepFeedsConfig } from './step-feeds.js';
import { StepStats } from './step-stats.js';
import type { TrainOptions } from './train-options.js';

export interface StepRunsConfig {
  inputs: BatchInputs;
  rngSeed: number;
  stepsPerRun: number;
  /** The stored tensors the graph takes and updates: all but host tables and their optimizer state. */
  graphNames: string[];
  hostTables: HostTable[];
}

export class StepRuns {
  readonly stats: StepStats;
  private readonly feeds: StepFeedsConfig;
  private readonly runOptions: RunOptions;

  private constructor(
    private readonly single: HostedSession,
    private readonly multi: HostedSession | undefined,
    opts: TrainOptions,
    private readonly cfg: StepRunsConfig,
  ) {
    const { model, optimizer } = opts;
    const clipping = optimizer.clipGradNorm !== undefined && single.outputNames.includes(GRAD_NORM_OUTPUT);
    this.stats = new StepStats(clipping ? optimizer.clipGradNorm : undefined, opts.onProgress);
    this.feeds = {
      model, inputs: cfg.inputs, stored: storedFeeds(cfg.graphNames), learningRates: learningRateFeeds(optimizer, opts),
      rngSeed: cfg.rngSeed, takesRngSeed: single.inputNames.includes('rng_seed'),
    };
    this.runOptions = {
      fetch: this.stats.fetch, keep: Object.fromEntries(cfg.graphNames.map((n) => [`${n}__new`, n])), transfer: true,
      tables: hostTableRuns(cfg.hostTables, optimizer),
    };
  }

  /** Creates the train-step sessions: the multi-step one only for stepsPerRun > 1. */
  static async open(host: SessionHost, opts: TrainOptions, cfg: StepRunsConfig): Promise<StepRuns> {
    const single = await host.createSession(buildTrainStep(opts.model, opts.optimizer));
    const multi = cfg.stepsPerRun > 1
      ? await host.createSession(buildMultiStepTrainStep(opts.model, opts.optimizer, cfg.stepsPerRun)) : undefined;
    return new StepRuns(single, multi, opts, cfg);
  }

  /** Where the train step runs: 'cpu' after a fallback from 'cuda'. */
  get executionProvider(): HostedSession['executionProvider'] {
    return this.single.executionProvider;
  }

  /** How a group of consecutive batches runs: all in one run when they fill a multi-step run, else one by one. */
  runsOf(group: Batch[]): Batch[][] {
    const stacked = this.multi !== undefined && group.length === this.cfg.stepsPerRun && group.every((b) => b.size === group[0]!.size);
    return stacked ? [group] : group.map((b) => [b]);
  }

  /**
   * Posts the run of `run` batches after `stepsBefore` global steps, the first being step `first` of this call;
   * resolves once its losses are recorded. The batches' buffers are transferred to the worker.
   */
  post(run: Batch[], first: number, stepsBefore: number): Promise<void> {
    const session = run.length === 1 ? this.single : this.multi!;
    return session.run(stepFeeds(this.feeds, run, stepsBefore), this.runOptions).then((out) => this.stats.record(run, first, out));
  }
}
