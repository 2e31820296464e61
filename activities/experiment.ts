import { Context, heartbeat, sleep } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { join } from 'node:path';
import { getDataset, getDatasetById } from '../lib/data/datasets.js';
import { ingestFile } from '../lib/data/ingest.js';
import { filesInIngestOrder, registerReplayDataset, type ReplayFile } from '../lib/data/replay-files.js';
import { loadPipelineReport } from '../lib/report/data.js';
import { writeComparisonReport } from '../lib/report/write.js';
import type { ExperimentEnd } from '../policies/experiments/schema.js';
import { variantTable, type RunFigures, type RunResult, type VariantRow } from '../policies/experiments/table.js';
import type { ActivityDeps } from './deps.js';
import { configurationError } from './failures.js';

export type { ReplayFile };

/** How a pipeline an earlier experiment run started stands now. */
export type EarlierOutcome = { outcome: 'completed' } | { outcome: 'failed'; message: string } | { outcome: 'running' };

/** How a variant's pipeline ended, as the experiment workflow saw it. */
export type RunOutcome = { variant: string; seed: number; pipelineName: string } & ({ outcome: 'completed' } | { outcome: 'failed'; message: string });

export interface ExperimentResults {
  table: VariantRow[];
  /** The comparison page of the completed pipelines; null when none completed. */
  report: string | null;
}

/** How often the wait for a pipeline started outside this experiment run looks at it again. */
const POLL_MS = 5000;

/** Experiment bookkeeping on the cpu task queue: the end of the stream, earlier pipelines, the results. */
export function experimentActivities({ pool, storeDir }: ActivityDeps) {
  return {
    /** The key where every variant stops: `until` resolved against the dataset's ingested samples. */
    async experimentEndKey(args: { dataset: string; until?: ExperimentEnd }): Promise<number> {
      const dataset = await getDataset(pool, args.dataset);
      if (!dataset) throw configurationError('DatasetNotFound', `no dataset named "${args.dataset}" (base.dataset.name)`);
      const { rows } = await pool.query('SELECT max(last_key) AS last FROM files WHERE dataset_id = $1', [dataset.id]);
      const last = rows[0]?.last as number | null;
      if (last === null) throw configurationError('InvalidSpec', `dataset "${args.dataset}" holds no samples yet: an experiment runs over ingested data`);
      if (!args.until) return last;
      if ('key' in args.until) {
        if (args.until.key > last) throw configurationError('InvalidSpec', `until.key: ${args.until.key} is past the dataset's last ingested key ${last}`);
        return args.until.key;
      }
      const nth = await pool.query('SELECT sample_key FROM samples WHERE dataset_id = $1 ORDER BY sample_key OFFSET $2 LIMIT 1', [dataset.id, args.until.samples - 1]);
      if (nth.rows.length === 0) throw configurationError('InvalidSpec', `until.samples: ${args.until.samples} is more than the dataset's ingested samples`);
      return nth.rows[0].sample_key as number;
    },

    /**
     * How the pipeline workflow of this name ended, when an earlier experiment run started it: one still running
     * (its experiment run was terminated, the pipeline kept going) is waited for, heartbeating, or, with `wait`
     * false, answered as running.
     */
    async earlierPipelineOutcome(args: { pipelineName: string; wait?: boolean }): Promise<EarlierOutcome> {
      const handle = Context.current().client.workflow.getHandle(args.pipelineName);
      for (;;) {
        const { status } = await handle.describe();
        if (status.name === 'COMPLETED') return { outcome: 'completed' };
        if (status.name !== 'RUNNING') {
          const err = status.name === 'FAILED' ? await handle.result().then(() => undefined, (e: unknown) => e) : undefined;
          return { outcome: 'failed', message: err ? deepestMessage(err) : `the pipeline was ${status.name.toLowerCase().replace(/_/g, ' ')}` };
        }
        if (args.wait === false) return { outcome: 'running' };
        heartbeat();
        await sleep(POLL_MS);
      }
    },

    /** A replayed variant's dataset (lib/data/replay-files.ts) and the base's files it replays, up to the end key. */
    async prepareReplay(args: { base: string; name: string; endKey: number }): Promise<{ datasetId: number; files: ReplayFile[] }> {
      const base = await getDataset(pool, args.base);
      if (!base) throw configurationError('DatasetNotFound', `no dataset named "${args.base}" (base.dataset.name)`);
      const replay = await registerReplayDataset(pool, args.base, args.name);
      return { datasetId: replay.id, files: await filesInIngestOrder(pool, base.id, args.endKey) };
    },

    /** One file's arrival in a replay: ingested into the replay's dataset (nothing new when it already was). */
    async replayFile(args: { datasetId: number; path: string }): Promise<void> {
      const dataset = await getDatasetById(pool, args.datasetId);
      if (!dataset) throw configurationError('DatasetNotFound', `the replay's dataset ${args.datasetId} no longer exists`);
      const outcome = await ingestFile(pool, dataset, args.path);
      if (outcome.status === 'rejected') throw configurationError('InvalidData', `replaying ${args.path} into dataset "${dataset.name}": ${outcome.error.message}`);
    },

    /** The experiment's table from the database, and the comparison report of its completed pipelines. */
    async experimentResults(args: {
      experiment: string; runs: RunOutcome[];
      /** The variants share the experiment's evaluation in sample time, their first after the pipeline: the table's accuracy. */
      sharedEvaluation?: boolean;
    }): Promise<ExperimentResults> {
      const client = Context.current().client;
      const results: RunResult[] = [];
      const reports = [];
      for (const run of args.runs) {
        if (run.outcome === 'failed') {
          results.push(run);
          continue;
        }
        const data = await loadPipelineReport(pool, run.pipelineName);
        reports.push(data);
        const { cost } = data.figures;
        const shared = data.plans.find((p) => p.name === `${run.pipelineName}/after-pipeline-0`);
        const figures: RunFigures = {
          meanCompositeAccuracy: args.sharedEvaluation ? shared?.meanCompositeAccuracy ?? null : data.figures.meanCompositeAccuracy, triggers: cost.triggers, samplesTrained: cost.samplesTrained, samplesProcessed: cost.samplesProcessed,
          trainingSeconds: cost.trainingSeconds, totalSeconds: await wallSeconds(client, run.pipelineName),
        };
        results.push({ ...run, figures });
      }
      const report = reports.length === 0 ? null : (await writeComparisonReport(reports, join(storeDir, 'reports', 'experiments', args.experiment))).page;
      return { table: variantTable(results), report };
    },
  };

  /** From the start of the pipeline's first workflow run (the one that registered it) to the close of its last. */
  async function wallSeconds(client: Client, pipelineName: string): Promise<number> {
    const { rows } = await pool.query('SELECT run_id FROM pipelines WHERE name = $1', [pipelineName]);
    const first = await client.workflow.getHandle(pipelineName, rows[0].run_id as string).describe();
    const last = await client.workflow.getHandle(pipelineName).describe();
    return ((last.closeTime ?? first.startTime).getTime() - first.startTime.getTime()) / 1000;
  }
}

/** The innermost message of a failure chain: the activity's or the trigger's cause. */
function deepestMessage(err: unknown): string {
  let message = String(err);
  for (let cause: unknown = err; cause instanceof Error; cause = cause.cause) message = cause.message;
  return message;
}
