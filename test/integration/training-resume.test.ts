import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ActivityDeps } from '../../activities/deps.js';
import { pipelineActivities, type RegisteredPipeline } from '../../activities/pipeline.js';
import { selectionActivities } from '../../activities/selection.js';
import { trainingActivities, type TrainArgs, type TrainedModel } from '../../activities/training.js';
import { registerDataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { ModelStore } from '../../lib/models/store.js';
import { readModelState, type ModelState } from '../../lib/train/model-state.js';
import { parseSpec } from '../../policies/spec.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';

const FEATURES = 8;

/** What the training activity heartbeats (its private TrainHeartbeat), as far as these tests read it. */
interface Heartbeat {
  stepsDone: number;
  samplesDone: number;
  checkpoint?: { path: string; stepsDone: number; samplesDone: number; elapsedMs: number };
}

/**
 * A retried training attempt whose last heartbeat names a checkpoint that is gone or unreadable, run with the
 * real activity (MockActivityEnvironment sets the heartbeat details), PostgreSQL and ONNX Runtime.
 */
describe('training resumes when its heartbeat names a checkpoint it cannot read', () => {
  let postgres: TestPostgres;
  let root: string;
  let deps: ActivityDeps;
  let args: TrainArgs;
  let runDir: string;
  let clean: Awaited<ReturnType<typeof attempt>>;

  /**
   * One attempt of the activity, as attempt 2 with `details` when given: its result, final state, heartbeats and
   * the warnings it logged.
   */
  async function attempt(details?: Heartbeat) {
    const warnings: string[] = [];
    const logger = new DefaultLogger('WARN', (entry) => warnings.push(entry.message));
    const info = details ? { attempt: 2, heartbeatDetails: details, heartbeatTimeoutMs: 10_000 } : { heartbeatTimeoutMs: 10_000 };
    const env = new MockActivityEnvironment(info, { logger });
    const heartbeats: Heartbeat[] = [];
    env.on('heartbeat', (d: Heartbeat) => heartbeats.push(structuredClone(d)));
    const result: TrainedModel = await env.run(trainingActivities(deps).trainModel, args);
    const { state } = await readModelState(join(deps.storeDir, result.trainedState));
    return { result, state, heartbeats, warnings };
  }

  const checkpointFiles = async () => (await readdir(join(deps.storeDir, runDir))).filter((f) => f.startsWith('ckpt-')).sort();

  function assertSameModel(state: ModelState) {
    assert.equal(state.step, clean.state.step);
    for (const group of ['params', 'optimizer'] as const) {
      for (const [name, values] of Object.entries(clean.state[group])) {
        assert.deepEqual(Buffer.from(state[group][name]!.buffer), Buffer.from(values.buffer), `${group} ${name} is bit-identical`);
      }
    }
  }

  before(async () => {
    postgres = await startTestPostgres();
    root = await mkdtemp(join(tmpdir(), 'tideline-resume-'));
    deps = { pool: postgres.pool, storeDir: join(root, '.store'), executionProvider: 'cpu' };
    const dataset = await registerDataset(postgres.pool, { name: 'resume', root, format: syntheticFormat(FEATURES, 3) });
    await writeBlobFile(root, 'all.bin', { samples: 600, features: FEATURES, numClasses: 3, startTs: 0, spanS: 600, seed: 2 });
    assert.equal((await ingestFile(postgres.pool, dataset, 'all.bin')).status, 'ingested');
    const spec = parseSpec({
      dataset: { name: 'resume' },
      model: { architecture: 'mlp', hidden: [16], numClasses: 3 },
      training: { epochs: 3, batchSize: 32, optimizer: { name: 'adam', lr: 0.01 }, seed: 7, checkpointEvery: 5 },
      trigger: { kind: 'dataAmount', every: 600 },
    });
    const registering = new MockActivityEnvironment({ workflowExecution: { workflowId: 'resume', runId: 'resume-run' } });
    const { pipelineId, datasetId }: RegisteredPipeline = await registering.run(pipelineActivities(deps).registerPipeline, { name: 'resume', spec });
    const range = { firstKey: 1, lastKey: 600 };
    await selectionActivities(deps).selectTrainingSet({ pipelineId, datasetId, triggerId: 0, trigger: range, ranges: [range] });
    args = { pipelineId, datasetId, triggerId: 0, model: spec.model, features: FEATURES, training: spec.training, parentModelId: null };
    runDir = new ModelStore(deps.storeDir).runDir(pipelineId, 0);
    clean = await attempt();
  });

  after(async () => {
    await postgres?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('keeps only the newest checkpoint once training is done', async () => {
    const named = clean.heartbeats.flatMap((h) => (h.checkpoint ? [h.checkpoint.stepsDone] : []));
    const newest = Math.max(...named);
    assert.ok(named.length > 5 && newest > 5, `checkpoints at steps ${[...new Set(named)].join(', ')}`);
    assert.deepEqual(await checkpointFiles(), [`ckpt-${newest}.state`]);
  });

  it('resumes from the newest checkpoint still on disk when the named one was deleted', async () => {
    const first = clean.heartbeats.find((h) => h.checkpoint)!;
    const [remaining] = await checkpointFiles();
    const newest = Number(/ckpt-(\d+)/.exec(remaining!)![1]);
    assert.notEqual(first.checkpoint!.stepsDone, newest, 'the named checkpoint is not on disk');

    const resumed = await attempt(first);
    assert.deepEqual(resumed.warnings, [
      `trigger 0: checkpoint ${first.checkpoint!.path} cannot be resumed from (ENOENT: no such file or directory, open '${join(deps.storeDir, first.checkpoint!.path)}')`,
      `trigger 0: resuming from checkpoint ${join(runDir, remaining!)} (step ${newest}) instead`,
    ]);
    assert.equal(resumed.heartbeats[0]!.stepsDone, newest + 1, 'the first step after the newest checkpoint');
    assert.equal(resumed.result.steps, clean.result.steps);
    assert.equal(resumed.result.samples, clean.result.samples);
    assertSameModel(resumed.state);
  });

  it('resumes from the newest checkpoint on disk when no heartbeat named one (the worker died before sending it)', async () => {
    const [remaining] = await checkpointFiles();
    const newest = Number(/ckpt-(\d+)/.exec(remaining!)![1]);
    const resumed = await attempt({ stepsDone: 1, samplesDone: 32 });
    assert.deepEqual(resumed.warnings, [`trigger 0: resuming from checkpoint ${join(runDir, remaining!)} (step ${newest}) instead`]);
    assert.equal(resumed.heartbeats[0]!.stepsDone, newest + 1, 'the first step after the checkpoint on disk');
    assert.equal(resumed.result.samples, clean.result.samples);
    assertSameModel(resumed.state);
  });

  it('starts afresh when no checkpoint is readable, the named one corrupt', async () => {
    const named = clean.heartbeats.find((h) => h.checkpoint)!;
    for (const file of await checkpointFiles()) await rm(join(deps.storeDir, runDir, file));
    await writeFile(join(deps.storeDir, named.checkpoint!.path), 'not a model state');

    const restarted = await attempt(named);
    assert.match(restarted.warnings[0]!, /checkpoint .*ckpt-5\.state cannot be resumed from \(model state file .* is corrupt or truncated: bad magic\)/);
    assert.equal(restarted.warnings.at(-1), `trigger 0: no checkpoint of ${runDir} can be resumed from: training starts afresh`);
    assert.equal(restarted.heartbeats[0]!.stepsDone, 1, 'trained from the first step');
    assert.equal(restarted.result.steps, clean.result.steps);
    assertSameModel(restarted.state);
  });
});
