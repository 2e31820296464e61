import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ApplicationFailure, ChildWorkflowFailure, getExternalWorkflowHandle, ParentClosePolicy, proxyActivities, setHandler, sleep, startChild,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import type { ExperimentResults, ReplayFile, RunOutcome } from '../activities/experiment.js';
import type { CpuActivities } from '../activities/index.js';
import { NON_RETRYABLE } from '../policies/failure-types.js';
import { arrivalGapMs, replayDatasetName } from '../policies/experiments/replay.js';
import { experimentRuns, type ExperimentRun } from '../policies/experiments/runs.js';
import { ExperimentError, parseExperiment, variantSpec, type Experiment, type ExperimentInput } from '../policies/experiments/schema.js';
import { cpuActivities } from './activity-options.js';
import { experimentStatusQuery, type ExperimentStatus } from './experiment-status.js';
import { newDataSignal } from './messages.js';
import { pipelineWorkflow } from './pipeline.js';

export interface ExperimentSummary extends ExperimentResults {
  experiment: string;
  /** The last key every variant saw. */
  endKey: number;
  runs: RunOutcome[];
}

/**
 * An experiment: every variant × seed of the file runs as its own pipeline (a child workflow named
 * `<experiment>/<variant>/seed-<seed>`) over the same dataset up to the same end key, at most `concurrency` at
 * once, in the file's order; then one activity computes the table and writes the comparison report.
 *
 * Finished pipelines are never redone: children start with REJECT_DUPLICATE, so a pipeline that an earlier run of
 * this experiment finished (a re-run of the file, `--resume`) refuses to start again and the experiment asks how it
 * ended instead. Children are ABANDONed when the experiment closes, so one terminated experiment run leaves its
 * pipelines going, and the next run waits for them.
 */
export async function experimentWorkflow(input: ExperimentInput): Promise<ExperimentSummary> {
  let experiment: Experiment;
  try {
    experiment = parseExperiment(input);
  } catch (err) {
    if (err instanceof ExperimentError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidSpec', err.issues);
    throw err;
  }
  // Every variant has the base's dataset (overrides may not change it); the first variant's cpu queue serves the experiment.
  const first = variantSpec(experiment, Object.keys(experiment.variants)[0]!);
  const cpu = cpuActivities(first);
  const { earlierPipelineOutcome } = proxyActivities<CpuActivities>({
    taskQueue: first.queues.cpu,
    startToCloseTimeout: '365 days',
    heartbeatTimeout: '1m',
    retry: { initialInterval: '1s', maximumInterval: '1m', maximumAttempts: 10, nonRetryableErrorTypes: [...NON_RETRYABLE] },
  });

  const status: ExperimentStatus = { runs: 0, completed: 0, failed: 0, running: [], current: 'resolving the end of the stream' };
  setHandler(experimentStatusQuery, () => status);

  const endKey = await cpu.experimentEndKey({ dataset: first.dataset.name, until: experiment.until });
  const runs = experimentRuns(experiment, endKey);
  status.runs = runs.length;
  status.current = 'running pipelines';

  async function runPipeline(run: ExperimentRun): Promise<RunOutcome> {
    const { variant, seed, pipelineName } = run;
    const replayDataset = replayDatasetName(first.dataset.name, pipelineName);
    const replay = run.replay && (await cpu.prepareReplay({ base: first.dataset.name, name: replayDataset, endKey }));
    const spec = replay ? { ...run.spec, dataset: { name: replayDataset } } : run.spec;
    let child;
    try {
      child = await startChild(pipelineWorkflow, {
        workflowId: pipelineName, taskQueue: spec.queues.cpu, args: [spec],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE, parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // Started by an earlier run of this experiment: a replay still running gets the rest of its files.
      if (replay && (await earlierPipelineOutcome({ pipelineName, wait: false })).outcome === 'running') await arrive(replay, run.replay!.speed, pipelineName);
      const earlier = await earlierPipelineOutcome({ pipelineName });
      if (earlier.outcome === 'running') throw new Error(`pipeline ${pipelineName} is still running after the wait for it`);
      return { variant, seed, pipelineName, ...earlier };
    }
    if (replay) await arrive(replay, run.replay!.speed, pipelineName);
    try {
      await child.result();
      return { variant, seed, pipelineName, outcome: 'completed' };
    } catch (err) {
      if (!(err instanceof ChildWorkflowFailure)) throw err;
      return { variant, seed, pipelineName, outcome: 'failed', message: deepestMessage(err) };
    }
  }

  /** Replays the files into the pipeline's dataset as they arrive in sample time, signalling it after each one. */
  async function arrive(replay: { datasetId: number; files: ReplayFile[] }, speed: number, pipelineName: string) {
    const pipeline = getExternalWorkflowHandle(pipelineName);
    for (const [i, file] of replay.files.entries()) {
      if (i > 0) await sleep(arrivalGapMs(replay.files[i - 1]!.minTs, file.minTs, speed));
      await cpu.replayFile({ datasetId: replay.datasetId, path: file.path });
      await pipeline.signal(newDataSignal, { datasetId: replay.datasetId });
    }
  }

  const outcomes: RunOutcome[] = [];
  let next = 0;
  /** One of `concurrency` lanes: takes the next run in order until none is left. */
  async function lane() {
    while (next < runs.length) {
      const index = next++;
      const run = runs[index]!;
      status.running.push(run.pipelineName);
      const outcome = await runPipeline(run);
      status.running.splice(status.running.indexOf(run.pipelineName), 1);
      status[outcome.outcome]++;
      outcomes[index] = outcome;
    }
  }
  await Promise.all(Array.from({ length: Math.min(experiment.concurrency, runs.length) }, lane));

  status.current = 'writing the results';
  const results = await cpu.experimentResults({ experiment: experiment.name, runs: outcomes, sharedEvaluation: experiment.evaluation !== undefined });
  status.current = 'done';
  return { experiment: experiment.name, endKey, runs: outcomes, ...results };
}

/** The innermost message of a failure chain: the trigger's or the activity's cause. */
function deepestMessage(err: Error): string {
  let message = err.message;
  for (let cause: unknown = err.cause; cause instanceof Error; cause = cause.cause) message = cause.message;
  return message;
}
