import assert from 'node:assert/strict';
import type { PipelineStatus } from '../../workflows/messages.js';
import type { PipelineSummary } from '../../workflows/pipeline.js';
import { runTestWorkers } from '../helpers/temporal.js';
import { faultsAt, type Injected, type Planned } from './driver.js';
import { assertSameOutcome } from './invariants.js';
import { runPipeline } from './pipeline-run.js';
import type { FaultWorld } from './world.js';

/** What one fault scenario did and what held. */
export interface ScenarioResult {
  name: string;
  injected: Injected[];
  seconds: number;
  /** The invariants that held (assertSameOutcome and, where data was ingested under faults, assertIngestExact). */
  held: string[];
  /** Extra facts worth reporting, e.g. the error a full disk gave. */
  notes: string[];
  /** Attempts beyond the first, by activity type, that the faults cost (from the workflow histories). */
  retries: Record<string, number>;
}

const references = new Map<string, Promise<PipelineSummary>>();

/**
 * The uninterrupted run of the fault pipeline on `dataset` with `seed`, once per world and pair. It runs on workers
 * of its own in this process (on queues of their own: the spec differs from the faulted runs' in its queue names
 * only), so it can run while the worker processes start, and no fault can reach it.
 */
export function referenceRun(world: FaultWorld, dataset: string, seed: number): Promise<PipelineSummary> {
  const key = `${world.root}:${dataset}:${seed}`;
  if (!references.has(key)) {
    references.set(key, (async () => {
      const queues = { cpu: 'reference-cpu', gpu: 'reference-gpu' };
      const stop = await runTestWorkers(world.temporal, { pool: world.postgres.pool, storeDir: world.storeDir, queues, roles: ['control', 'gpu'] });
      try {
        return await runPipeline(world, `reference-${dataset}-${seed}`, { ...world.spec(dataset, seed), queues });
      } finally {
        await stop();
      }
    })());
  }
  return references.get(key)!;
}

/**
 * Runs the fault pipeline `name` on `dataset` with `planned` faults (plus `watch`, for faults a point cannot
 * express), then checks it left what the reference run leaves: the same triggers, training sets, models
 * (sha256) and evaluations. Every planned fault must have been injected.
 */
export async function faultedRun(
  world: FaultWorld,
  args: { name: string; dataset: string; seed: number; planned?: Planned[]; watch?: (status: PipelineStatus | undefined) => Promise<void> },
): Promise<ScenarioResult & { summary: PipelineSummary }> {
  const started = Date.now();
  const faults = faultsAt(world.storeDir, args.planned ?? []);
  const summary = await runPipeline(world, args.name, world.spec(args.dataset, args.seed), async (status) => {
    await faults.watch(status);
    await args.watch?.(status);
  });
  assert.deepEqual(faults.missed, [], `${args.name}: faults whose point the pipeline passed unseen`);
  assert.equal(faults.pending(), 0, `${args.name}: ${faults.pending()} planned faults were never injected`);
  const reference = await referenceRun(world, args.dataset, args.seed);
  assert.deepEqual(
    { triggers: summary.triggers, models: summary.models, samplesSeen: summary.samplesSeen, lastKey: summary.lastKey },
    { triggers: reference.triggers, models: reference.models, samplesSeen: reference.samplesSeen, lastKey: reference.lastKey },
    `${args.name}: pipeline summary`,
  );
  const outcome = await assertSameOutcome(world.postgres.pool, summary.pipelineId, reference.pipelineId, args.name);
  const cells = outcome.evaluations.length;
  const samples = Object.values(outcome.trainingSets).reduce((n, set) => n + set.length, 0);
  return {
    name: args.name, summary, injected: faults.injected, seconds: (Date.now() - started) / 1000, notes: [],
    retries: await activityRetries(world, [args.name, ...outcome.triggers.map((t) => `${args.name}/trigger-${t.trigger_id}`)]),
    held: [
      `${outcome.triggers.length} triggers, ${samples} training-set rows, ${cells} evaluation cells and `
        + `${outcome.models.length} model hashes equal to the uninterrupted run's`,
    ],
  };
}

/**
 * Attempts beyond the first of every activity of `workflowIds`, by type. A history records an activity's last
 * attempt only (its started event, written when it ends, carries the attempt number).
 */
async function activityRetries(world: FaultWorld, workflowIds: string[]): Promise<Record<string, number>> {
  const retries: Record<string, number> = {};
  for (const id of workflowIds) {
    const events = (await world.temporal.client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const types = new Map(events.flatMap((e) => {
      const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
      return type ? [[String(e.eventId), type] as const] : [];
    }));
    for (const e of events) {
      const started = e.activityTaskStartedEventAttributes;
      if (started && (started.attempt ?? 1) > 1) {
        const type = types.get(String(started.scheduledEventId))!;
        retries[type] = (retries[type] ?? 0) + started.attempt! - 1;
      }
    }
  }
  return retries;
}
