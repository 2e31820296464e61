import { MockActivityEnvironment } from '@temporalio/testing';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ActivityDeps } from '../../activities/deps.js';
import { pipelineActivities, type RegisteredPipeline } from '../../activities/pipeline.js';
import { selectionActivities } from '../../activities/selection.js';
import { trainingActivities, type TrainArgs, type TrainedModel } from '../../activities/training.js';
import { registerDataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { countTrainingSet } from '../../lib/data/loader.js';
import { readModelState, type ModelState } from '../../lib/train/model-state.js';
import { downsamplerFor, selectionPlan } from '../../policies/selection/plan.js';
import { parseSpec, type PipelineSpecInput } from '../../policies/spec.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';

const FEATURES = 8;

interface Heartbeat {
  stepsDone: number;
  samplesDone: number;
  checkpoint?: { path: string; stepsDone: number; samplesDone: number; elapsedMs: number; scoringMs?: number };
}

/**
 * A training attempt with model-based downsampling, retried from a checkpoint, ends with the very model an
 * uninterrupted attempt trains: the real activity (MockActivityEnvironment sets the heartbeat details), PostgreSQL
 * and ONNX Runtime.
 */
describe('training with downsampling resumes bit for bit', () => {
  let postgres: TestPostgres;
  let root: string;
  let deps: ActivityDeps;
  let pipelines = 0;

  before(async () => {
    postgres = await startTestPostgres();
    root = await mkdtemp(join(tmpdir(), 'tideline-downsampling-resume-'));
    deps = { pool: postgres.pool, storeDir: join(root, '.store'), executionProvider: 'cpu' };
    const dataset = await registerDataset(postgres.pool, { name: 'resume', root, format: syntheticFormat(FEATURES, 3) });
    await writeBlobFile(root, 'all.bin', { samples: 600, features: FEATURES, numClasses: 3, startTs: 0, spanS: 600, seed: 2 });
    assert.equal((await ingestFile(postgres.pool, dataset, 'all.bin')).status, 'ingested');
  });

  after(async () => {
    await postgres?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** A pipeline with one trigger over all 600 samples, selected; the training activity's arguments. */
  async function trigger(selection: PipelineSpecInput['selection']): Promise<TrainArgs> {
    const spec = parseSpec({
      dataset: { name: 'resume' },
      model: { architecture: 'mlp', hidden: [16], numClasses: 3 },
      training: { epochs: 3, batchSize: 16, optimizer: { name: 'adam', lr: 0.01 }, seed: 7, checkpointEvery: 4 },
      trigger: { kind: 'dataAmount', every: 600 },
      selection,
    });
    const name = `resume-${++pipelines}`;
    const registering = new MockActivityEnvironment({ workflowExecution: { workflowId: name, runId: `${name}-run` } });
    const { pipelineId, datasetId }: RegisteredPipeline = await registering.run(pipelineActivities(deps).registerPipeline, { name, spec });
    const range = { firstKey: 1, lastKey: 600 };
    await selectionActivities(deps).selectTrainingSet({
      pipelineId, datasetId, triggerId: 0, trigger: range, pipelineFirstKey: 1, plan: selectionPlan(spec.selection, 0, spec.training.seed),
    });
    return {
      pipelineId, datasetId, triggerId: 0, model: spec.model, features: FEATURES, training: spec.training, parentModelId: null,
      downsampling: downsamplerFor(spec.selection, 0),
    };
  }

  /** One attempt (attempt 2 resuming from `details` when given), keeping a copy of every checkpoint it names. */
  async function attempt(args: TrainArgs, details?: Heartbeat) {
    const info = details ? { attempt: 2, heartbeatDetails: details, heartbeatTimeoutMs: 10_000 } : { heartbeatTimeoutMs: 10_000 };
    const env = new MockActivityEnvironment(info);
    const checkpoints = new Map<number, Heartbeat>();
    env.on('heartbeat', (d: Heartbeat) => {
      if (!d.checkpoint || checkpoints.has(d.checkpoint.stepsDone)) return;
      // Retention deletes older checkpoints as training goes on: kept here to resume from later.
      const backup = join(root, 'kept', d.checkpoint.path);
      mkdirSync(dirname(backup), { recursive: true });
      copyFileSync(join(deps.storeDir, d.checkpoint.path), backup);
      checkpoints.set(d.checkpoint.stepsDone, structuredClone(d));
    });
    const result: TrainedModel = await env.run(trainingActivities(deps).trainModel, args);
    const { state } = await readModelState(join(deps.storeDir, result.trainedState));
    return { result, state, checkpoints };
  }

  async function resumeFrom(args: TrainArgs, heartbeat: Heartbeat) {
    await copyFile(join(root, 'kept', heartbeat.checkpoint!.path), join(deps.storeDir, heartbeat.checkpoint!.path));
    return attempt(args, heartbeat);
  }

  function assertSameModel(state: ModelState, clean: ModelState, what: string) {
    assert.equal(state.step, clean.step, what);
    for (const [name, values] of Object.entries(clean.params)) {
      assert.deepEqual(Buffer.from(state.params[name]!.buffer), Buffer.from(values.buffer), `${what}: ${name} is bit-identical`);
    }
  }

  it('batch-then-sample: every step picks what it would have, from any checkpoint', async () => {
    const args = await trigger({ downsampling: { strategy: 'loss', ratio: 0.5 } });
    const clean = await attempt(args);
    assert.ok(clean.checkpoints.size >= 6, `${clean.checkpoints.size} checkpoints`);
    assert.equal(clean.result.scoredSamples, 3 * await countTrainingSet(postgres.pool, args.pipelineId, 0), 'three epochs score the whole set');
    for (const steps of [4, 16, [...clean.checkpoints.keys()].at(-1)!]) {
      const resumed = await resumeFrom(args, clean.checkpoints.get(steps)!);
      assertSameModel(resumed.state, clean.state, `resumed at step ${steps}`);
      assert.equal(resumed.result.samples, clean.result.samples);
      assert.equal(resumed.result.steps, clean.result.steps);
    }
  });

  it('sample-then-batch: resumes inside a round, and rescores the rounds after it the same way', async () => {
    const args = await trigger({ downsampling: { strategy: 'gradMatch', ratio: 0.5, mode: 'sampleThenBatch', period: 1 } });
    const clean = await attempt(args);
    const rounds = async () => (await postgres.pool.query(
      'SELECT round, array_agg(sample_key ORDER BY sample_key) AS keys, array_agg(weight ORDER BY sample_key) AS weights FROM downsampled_samples WHERE pipeline_id = $1 GROUP BY round ORDER BY round',
      [args.pipelineId],
    )).rows;
    const written = await rounds();
    assert.equal(written.length, 3, 'one scoring round per epoch');
    assert.equal(clean.result.scoredSamples, 3 * await countTrainingSet(postgres.pool, args.pipelineId, 0), 'three rounds score the whole set');
    assert.equal(clean.result.samples, written.reduce((sum, r) => sum + r.keys.length, 0));
    const steps = [...clean.checkpoints.keys()];
    const inFirstRound = steps.find((s) => s > 0 && s < Math.ceil(written[0].keys.length / 16))!;
    // The rounds after the checkpoint's are gone, as if the attempt had died before scoring them.
    await postgres.pool.query('DELETE FROM downsampled_samples WHERE pipeline_id = $1 AND round > 0', [args.pipelineId]);
    const resumed = await resumeFrom(args, clean.checkpoints.get(inFirstRound)!);
    assertSameModel(resumed.state, clean.state, `resumed at step ${inFirstRound}`);
    assert.deepEqual(await rounds(), written, 'the rescored rounds picked the same samples with the same weights');
    assert.equal(resumed.result.samples, clean.result.samples);
  });
});
