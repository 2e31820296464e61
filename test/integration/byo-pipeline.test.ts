/**
 * Pipelines whose model is a user's own ONNX graph pair, written to files as any exporter would (here by
 * Tideline's own builder: an MLP's train step, and its inference graph with the initial weights inside).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { ingestFile } from '../../lib/data/ingest.js';
import { exportInferenceModel } from '../../lib/models/export.js';
import { ModelStore } from '../../lib/models/store.js';
import { pinUserModel, sha256Of } from '../../lib/models/user-graphs.js';
import { readInitializers } from '../../lib/onnx/initializers.js';
import { buildTrainStep } from '../../lib/onnx/models/build.js';
import { mlpModel } from '../../lib/onnx/models/mlp.js';
import type { OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { decodeModel, encodeModel, DataType } from '../../lib/onnx/proto.js';
import { listEvaluations } from '../../lib/pipelines/evaluations.js';
import { listModels } from '../../lib/pipelines/models.js';
import { getPipelineByName } from '../../lib/pipelines/registry.js';
import { initModelState, readModelState } from '../../lib/train/model-state.js';
import type { PipelineSpecInput } from '../../policies/spec.js';
import { newDataSignal, statusQuery } from '../../workflows/messages.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';
import { failureMessage, stopAfterTriggers, waitFor } from '../helpers/pipelines.js';
import type { TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat, writeBlobFile } from '../helpers/synthetic.js';
import type { TestTemporal } from '../helpers/temporal.js';
import { startTestWorld, type TestWorld } from '../helpers/world.js';

const DAY = 86_400;
const FEATURES = 12;
const CLASSES = 4;
const SGD: OptimizerConfig = { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0 };

describe('bring-your-own ONNX model pipelines (real Temporal dev server, PostgreSQL, ONNX Runtime)', () => {
  let temporal: TestTemporal;
  let postgres: TestPostgres;
  let root: string;
  let store: ModelStore;
  let dataset: Dataset;
  let world: TestWorld | undefined;
  const queues = { cpu: 'byo-cpu', gpu: 'byo-gpu' };
  const user = mlpModel({ inputSize: FEATURES, hidden: [16], numClasses: CLASSES });
  const initial = initModelState(user, SGD, 11);
  let trainStepBytes: Uint8Array;

  /** Writes a graph where a user would keep it; returns its absolute path and sha256, as a spec names them. */
  async function userFile(name: string, bytes: Uint8Array): Promise<{ path: string; sha256: string }> {
    const path = join(root, 'user-graphs', name);
    await writeFile(path, bytes);
    return { path, sha256: sha256Of(bytes) };
  }

  /** The train step with `edit` applied to its graph: how a broken export looks. */
  function brokenTrainStep(edit: (g: ReturnType<typeof decodeModel>['graph']) => void): Uint8Array {
    const model = decodeModel(trainStepBytes);
    edit(model.graph);
    return encodeModel(model);
  }

  function userModel(trainStep: { path: string; sha256: string }, inference: { path: string; sha256: string }) {
    return {
      architecture: 'onnx' as const, loss: 'softmax-ce' as const,
      trainStep: trainStep.path, trainStepSha256: trainStep.sha256, inference: inference.path, inferenceSha256: inference.sha256,
    };
  }

  const spec = (model: PipelineSpecInput['model'], training: Partial<PipelineSpecInput['training']> = {}): PipelineSpecInput => ({
    dataset: { name: 'blobs' },
    model,
    training: { epochs: 3, batchSize: 32, optimizer: { name: 'sgd', lr: 0.05 }, seed: 3, checkpointEvery: 5, ...training },
    trigger: { kind: 'dataAmount', every: 400 },
    queues,
  });

  /** The message of the innermost cause: the activity's, when a child workflow's activity failed it. */
  function rootCause(err: unknown): string {
    let e = err as Error & { cause?: unknown };
    while (e.cause instanceof Error) e = e.cause as Error & { cause?: unknown };
    return e.message;
  }

  async function refused(workflowId: string, input: PipelineSpecInput, message: RegExp): Promise<void> {
    const run = temporal.client.workflow.execute('pipelineWorkflow', { taskQueue: queues.cpu, workflowId, args: [input] });
    await assert.rejects(run, (err: unknown) => {
      assert.match(failureMessage(err), message);
      return true;
    });
  }

  before(async () => {
    world = await startTestWorld('byo', queues);
    ({ temporal, postgres, root } = world);
    store = new ModelStore(join(root, '.store'));
    dataset = await registerDataset(postgres.pool, { name: 'blobs', root, format: syntheticFormat(FEATURES, CLASSES) });
    await world.runWorkers(store.root);
    await mkdir(join(root, 'user-graphs'));
    trainStepBytes = buildTrainStep(user, SGD);
    for (let day = 0; day < 2; day++) {
      await writeBlobFile(root, `day-${day}.bin`, { samples: 400, features: FEATURES, numClasses: CLASSES, startTs: day * DAY, spanS: DAY, seed: day + 1 });
    }
  });

  after(() => world?.stop());

  it('trains, fine-tunes, stores and evaluates the user graphs, from absolute paths and from the store', async () => {
    const trainStep = await userFile('train-step.onnx', trainStepBytes);
    const inference = await userFile('inference.onnx', exportInferenceModel(user, initial));
    // As a Temporal CLI user would start it: absolute paths with their hashes.
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'byo-pipeline', args: [spec(userModel(trainStep, inference))],
    });
    for (const file of ['day-0.bin', 'day-1.bin']) {
      const outcome = await ingestFile(postgres.pool, dataset, file);
      assert.equal(outcome.status, 'ingested');
      if (outcome.status === 'ingested') await handle.signal(newDataSignal, { datasetId: dataset.id });
    }
    const summary = await stopAfterTriggers(handle, 2);
    assert.equal(summary.models, 2);

    const models = await listModels(postgres.pool, summary.pipelineId);
    assert.deepEqual(models.map((m) => m.parentModelId), [null, models[0]!.modelId], 'the second model fine-tunes the first');
    for (const m of models) {
      // The stored model is the user's inference graph carrying the trained parameters.
      const onnx = await readFile(store.resolve(m.onnxPath));
      const { state } = await readModelState(store.resolve(m.statePath));
      const weights = readInitializers(onnx);
      for (const [name, value] of Object.entries(state.params)) assert.deepEqual(weights.get(name)!.values, value, name);
      assert.notDeepEqual(state.params['fc1.weight'], initial.params['fc1.weight']);
      assert.equal(decodeModel(onnx).graph.name, decodeModel(await readFile(inference.path)).graph.name);
    }
    const evaluations = await listEvaluations(postgres.pool, summary.pipelineId);
    assert.equal(evaluations.length, 4, 'a 2×2 evaluation matrix');
    assert.ok(evaluations.every((e) => e.numSamples > 0 && e.accuracy! > 0.6), evaluations.map((e) => e.accuracy).join(', '));

    // As `tide run` starts it: the graphs pinned into the model store; the user's files may then change freely.
    const model = await pinUserModel(store, { architecture: 'onnx', trainStep: 'train-step.onnx', inference: 'inference.onnx', loss: 'softmax-ce' }, join(root, 'user-graphs'));
    assert.ok(model.trainStep.startsWith('store:') && model.inference.startsWith('store:'));
    await writeFile(trainStep.path, new Uint8Array([0]));
    const pinned = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'byo-pinned', args: [spec(model, { epochs: 1 })],
    });
    const pinnedSummary = await stopAfterTriggers(pinned, 2);
    assert.equal(pinnedSummary.models, 2);
    assert.equal((await listEvaluations(postgres.pool, pinnedSummary.pipelineId)).length, 4);
    await writeFile(trainStep.path, trainStepBytes);
  });

  it('fails the next trigger, naming the file, when a graph file is edited under a running pipeline', async () => {
    const lateRoot = join(root, 'late');
    await mkdir(lateRoot, { recursive: true });
    const late = await registerDataset(postgres.pool, { name: 'late', root: lateRoot, format: syntheticFormat(FEATURES, CLASSES) });
    const trainStep = await userFile('edited-train-step.onnx', trainStepBytes);
    const inference = await userFile('edited-inference.onnx', exportInferenceModel(user, initial));
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'byo-edited', args: [{ ...spec(userModel(trainStep, inference), { epochs: 1 }), dataset: { name: 'late' } }],
    });
    const ingest = async (day: number) => {
      await writeBlobFile(lateRoot, `day-${day}.bin`, { samples: 400, features: FEATURES, numClasses: CLASSES, startTs: day * DAY, spanS: DAY, seed: day + 5 });
      const outcome = await ingestFile(postgres.pool, late, `day-${day}.bin`);
      assert.equal(outcome.status, 'ingested');
      if (outcome.status === 'ingested') await handle.signal(newDataSignal, { datasetId: late.id });
    };
    await ingest(0);
    await waitFor('the first model', async () => {
      const s = await handle.query(statusQuery);
      return s.models === 1 && s.current === 'waiting for data' ? s : undefined;
    });
    await writeFile(trainStep.path, buildTrainStep(mlpModel({ inputSize: FEATURES, hidden: [32], numClasses: CLASSES }), SGD));
    await ingest(1);
    await assert.rejects(handle.result(), (err: unknown) => {
      assert.match(rootCause(err), new RegExp(`^model\\.trainStep \\(${trainStep.path}\\): its sha256 is [0-9a-f]{64}, but the spec pins ${trainStep.sha256}: the file changed after the pipeline was started$`));
      return true;
    });
    const row = await getPipelineByName(postgres.pool, 'byo-edited');
    assert.equal((await listModels(postgres.pool, row!.pipelineId)).length, 1, 'the model trained before the edit stays');
  });

  it('fails at start, naming the graph file and the culprit, when a graph breaks the contract', async () => {
    const inference = await userFile('inference.onnx', exportInferenceModel(user, initial));
    const noPerSample = await userFile('no-per-sample-loss.onnx', brokenTrainStep((g) => {
      g.output = g.output.filter((o) => o.name !== 'per_sample_loss');
    }));
    await refused('byo-no-per-sample-loss', spec(userModel(noPerSample, inference)),
      /^model\.trainStep \(.*no-per-sample-loss\.onnx\): train-step graph: missing output 'per_sample_loss' \(per-sample loss \[B\]\)$/);

    const floatY = await userFile('float-y.onnx', brokenTrainStep((g) => {
      g.input.find((i) => i.name === 'y')!.type.tensor_type.elem_type = DataType.float32;
    }));
    await refused('byo-float-y', spec(userModel(floatY, inference)),
      /^model\.trainStep \(.*float-y\.onnx\): train-step graph: input 'y' is float but softmax-ce needs int64$/);

    // The contract is checked for the spec's optimizer: this SGD graph has no Adam state.
    const trainStep = await userFile('train-step.onnx', trainStepBytes);
    await refused('byo-wrong-optimizer', spec(userModel(trainStep, inference), { optimizer: { name: 'adam', lr: 0.01 } }),
      /^model\.trainStep \(.*train-step\.onnx\): train-step graph: missing input 'fc1\.weight__m' \(Adam state of parameter 'fc1\.weight'\)/);
  });

  it('fails at start on a graph the dataset cannot feed, an unpinned or changed file, or stepsPerRun above 1', async () => {
    const trainStep = await userFile('train-step.onnx', trainStepBytes);
    const inference = await userFile('inference.onnx', exportInferenceModel(user, initial));
    const model = userModel(trainStep, inference);
    await refused('byo-steps-per-run', spec(model, { stepsPerRun: 4 }), /^training\.stepsPerRun: 4, but a user's onnx train-step graph runs one optimizer step per session run/);
    await refused('byo-unpinned', spec({ ...model, inferenceSha256: undefined }), /^model\.inferenceSha256: missing/);
    await refused('byo-changed', spec({ ...model, trainStepSha256: sha256Of(new Uint8Array([1])) }),
      /^model\.trainStep \(.*train-step\.onnx\): its sha256 is [0-9a-f]{64}, but the spec pins [0-9a-f]{64}: the file changed after the pipeline was started$/);
    await refused('byo-relative', spec({ ...model, inference: 'inference.onnx' }), /^model\.inference \(inference\.onnx\): 'inference\.onnx' is a relative path/);

    const narrow = mlpModel({ inputSize: 8, hidden: [16], numClasses: CLASSES });
    const narrowState = initModelState(narrow, SGD, 1);
    await refused('byo-narrow', spec(userModel(
      await userFile('narrow-train.onnx', buildTrainStep(narrow, SGD)), await userFile('narrow-inference.onnx', exportInferenceModel(narrow, narrowState)),
    )), /^model\.inference \(.*narrow-inference\.onnx\): input 'x' \[B, 8\] takes 8 values per sample, but the dataset's samples have 12 features$/);
  });
});
