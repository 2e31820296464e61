/**
 * The automatic choice of stepsPerRun (K optimizer steps per session run) when the options leave it out. A run has a
 * fixed cost besides its steps (a message to the worker and back, ORT's per-run setup, and the copy of every output,
 * the updated state included: on the development machine about 0.09 ms for logistic regression and 0.4 ms for the
 * MLP, whose state is 1.2 MB), as large as a whole step for the smallest models; a multi-step run instead costs the
 * main thread a copy of each batch into its stack. So the first steps run singly and are timed; K is chosen so that
 * a run lasts about TARGET_RUN_MS, within MAX_STEPS_PER_RUN and MAX_RUN_BYTES of stacked batch data a run (the
 * trainer keeps a few runs' stacks for reuse, stacked-batches.ts); then runs of K are timed too, and K is kept only
 * if they train faster per step than single steps did. Models with host tables are the exception: their K steps
 * are K runs of the same single-step session in one request (step-runs.ts), which saves K − 1 round trips and costs
 * nothing, so K is kept untried (a trial would settle it by noise: on a noisy machine its gain of a few percent was
 * measured as a loss in several runs of textClassifier and dlrm-host-100k at batch 64), and aims at the longer
 * SEQUENTIAL_TARGET_RUN_MS. K never changes the results (multi-step runs are bit-identical to single steps), so the
 * choice, timing-dependent as it is, keeps training deterministic.
 */

/** How long a run should last: its fixed cost is then a few percent of it. */
export const TARGET_RUN_MS = 10;
/**
 * How long a request of K single steps should last. Its K costs no other graph and no stacked copy, only the
 * granularity of progress reports and halts, so it may be longer and its fixed cost a smaller part: that cost was
 * about 0.3 ms a request for dlrm-host-100k, 6% of its 5.6 ms step at batch 256, where TARGET_RUN_MS left K at 1.
 */
export const SEQUENTIAL_TARGET_RUN_MS = 40;
export const MAX_STEPS_PER_RUN = 32;
export const MAX_RUN_BYTES = 8 * 2 ** 20;
/** Runs of K are kept when a step takes at most this fraction of a single step's time: a clear gain, not noise. */
export const KEEP_IF_FASTER = 0.95;
/**
 * Completions at the start of each phase that only mark time: the first runs pay ORT's first-run allocations; after
 * the switch to K, the single steps still in flight finish and the first run of K waits for the session's creation.
 */
const WARMUP_RUNS = 3;
/** A phase's time per step is averaged over at least this many intervals between completions, and this long. */
const MIN_INTERVALS = 8;
export const MIN_PHASE_MS = 50;

/** K for a step of `stepMs` whose batch feeds take `stepBytes`: a run of about `targetMs`, within the bounds. */
export function chooseStepsPerRun(stepMs: number, stepBytes: number, targetMs = TARGET_RUN_MS): number {
  const byTime = stepMs > 0 ? Math.floor(targetMs / stepMs) : MAX_STEPS_PER_RUN;
  const byBytes = Math.floor(MAX_RUN_BYTES / Math.max(stepBytes, 1));
  return Math.max(1, Math.min(MAX_STEPS_PER_RUN, byTime, byBytes));
}

/**
 * Times the runs a trainModel call starts with, by their completions (the worker's time per run while the trainer
 * keeps it busy, or the main thread's when it is the slower: either way what a step costs), and settles on K in two
 * phases. Single steps first: K stays 1 at once when they are long; a K above 1 needs a second session (the multi-step
 * graph), so single steps run for as long as creating a session took (`setupMs`) first, and a call too short to
 * repay that never pays it. Then runs of K, kept if a step is at least 5% faster in them (without a trial when they
 * need no other graph). Each phase lasts at least
 * MIN_PHASE_MS, so that a burst of load on the machine does not decide alone.
 */
export class StepsPerRunProbe {
  /** The K on trial, once single steps are timed. */
  private trial: number | undefined;
  private singleStepMs = 0;
  private decided: number | undefined;
  /** Completions in the current phase: when, and how many steps the run took (fewer than K when cut short). */
  private runs: { at: number; steps: number }[] = [];

  constructor(
    private readonly setupMs: number,
    private readonly stepBytes: number,
    /** Whether runs of K go to another graph, which must prove itself faster; false: K single steps a request. */
    private readonly trialNeeded: boolean,
  ) {}

  /** The steps the next run should take: 1 while single steps are timed, then the K on trial, then the choice. */
  get stepsPerRun(): number {
    return this.decided ?? this.trial ?? 1;
  }

  /** Whether K is settled: later runs need no timing. */
  get settled(): boolean {
    return this.decided !== undefined;
  }

  /** A run of `steps` steps finished at `at` (ms, any clock). */
  finished(at: number, steps: number): void {
    if (this.settled) return;
    this.runs.push({ at, steps });
    const timed = this.runs.slice(WARMUP_RUNS - 1);
    if (timed.length <= MIN_INTERVALS) return;
    const elapsed = timed.at(-1)!.at - timed[0]!.at;
    // Over the whole phase, not per run: the main thread sees completions in bursts, as it gets to their replies.
    const stepMs = elapsed / timed.slice(1).reduce((sum, r) => sum + r.steps, 0);
    if (this.trial === undefined) {
      const k = chooseStepsPerRun(stepMs, this.stepBytes, this.trialNeeded ? TARGET_RUN_MS : SEQUENTIAL_TARGET_RUN_MS);
      if (k > 1 && elapsed < Math.max(this.setupMs, MIN_PHASE_MS)) return;
      this.singleStepMs = stepMs;
      if (k === 1 || !this.trialNeeded) this.decided = k;
      else this.trial = k;
      this.runs = [];
      return;
    }
    if (elapsed < MIN_PHASE_MS) return;
    this.decided = stepMs <= this.singleStepMs * KEEP_IF_FASTER ? this.trial : 1;
  }
}
