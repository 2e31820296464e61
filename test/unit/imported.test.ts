/**
 * A user's own ONNX graph pair: the spec entry that names it, the import (initial state from the inference
 * graph's initializers, trained state substituted back into it), the hash pinning of its files, and the
 * trainer driving it exactly as it drives the zoo model the files were exported from.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import protobuf from 'protobufjs';
import type { Batch } from '../../lib/data/batch.js';
import { evaluateModel } from '../../lib/eval/evaluate.js';
import { exportInferenceModel } from '../../lib/models/export.js';
import { ModelStore } from '../../lib/models/store.js';
import { loadUserModel, pinUserModel, UserGraphError, type UserModelSpec } from '../../lib/models/user-graphs.js';
import { readInitializers, replaceInitializers } from '../../lib/onnx/initializers.js';
import { buildInference, buildTrainStep, modelParameters } from '../../lib/onnx/models/build.js';
import { importModel, ImportError, type GraphFile } from '../../lib/onnx/models/imported.js';
import { mlpModel } from '../../lib/onnx/models/mlp.js';
import type { OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { decodeModel, encodeModel, DataType } from '../../lib/onnx/proto.js';
import { createRng } from '../../lib/rng.js';
import { initModelState, type ModelState } from '../../lib/train/model-state.js';
import { trainModel } from '../../lib/train/trainer.js';
import { parseSpec, SpecError } from '../../policies/spec.js';

const FEATURES = 6;
const CLASSES = 3;
const ZOO = mlpModel({ inputSize: FEATURES, hidden: [8], numClasses: CLASSES });
const ADAM: OptimizerConfig = { name: 'adam', lr: 0.02, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
const SHA = 'a'.repeat(64);

/** The pair any exporter would write for the zoo MLP: its train step, and its inference graph with weights inside. */
function exportedPair(initial: ModelState): { trainStep: GraphFile; inference: GraphFile } {
  return {
    trainStep: { label: 'train.onnx', bytes: buildTrainStep(ZOO, ADAM) },
    inference: { label: 'inference.onnx', bytes: exportInferenceModel(ZOO, initial) },
  };
}

/** Edits a serialized graph (decoded with Tideline's proto subset, which covers what its builder writes). */
function editGraph(bytes: Uint8Array, edit: (g: ReturnType<typeof decodeModel>['graph']) => void): Uint8Array {
  const model = decodeModel(bytes);
  edit(model.graph);
  return encodeModel(model);
}

function blobBatches(seed: number, count: number, size = 24): Batch[] {
  const rng = createRng(seed);
  const centers = [[2, 0, 0, 0, 0, 0], [0, 2, 0, 0, 0, 0], [0, 0, 2, 0, 0, 0]];
  return Array.from({ length: count }, () => {
    const y = Int32Array.from({ length: size }, () => rng.int(CLASSES));
    const x = Float32Array.from({ length: size * FEATURES }, (_, k) => centers[y[Math.floor(k / FEATURES)]!]![k % FEATURES]! + rng.normal() * 0.5);
    return { x, y, w: new Float32Array(size).fill(1), size, features: FEATURES };
  });
}

async function* stream<T>(items: T[]): AsyncGenerator<T> {
  for (const b of items) yield b;
}

describe('spec entry for a user graph pair', () => {
  const base = {
    dataset: { name: 'blobs' }, training: { optimizer: { name: 'adam', lr: 0.01 } }, trigger: { kind: 'dataAmount', every: 100 },
  };
  /** The field path of each issue, and the message of those whose wording is Tideline's. */
  const issues = (model: unknown): string[] => {
    try {
      parseSpec({ ...base, model });
    } catch (err) {
      assert.ok(err instanceof SpecError);
      return err.issues.map((i) => (i.includes('sha256') ? i : i.slice(0, i.indexOf(':'))));
    }
    return [];
  };

  it('parses paths, hashes, loss and numClasses', () => {
    const model = { architecture: 'onnx', trainStep: '/data/t.onnx', inference: 'store:graphs/x/i.onnx', trainStepSha256: SHA, loss: 'softmax-ce', numClasses: 3 };
    assert.deepEqual(parseSpec({ ...base, model }).model, model);
  });

  it('names each bad field', () => {
    assert.deepEqual(issues({ architecture: 'onnx', trainStep: '', inference: 'i.onnx', loss: 'hinge' }), ['model.trainStep', 'model.loss']);
    assert.deepEqual(issues({ architecture: 'onnx', trainStep: 't.onnx', inference: 'i.onnx', loss: 'mse', inferenceSha256: 'ABC' }),
      ['model.inferenceSha256: expected a sha256 as 64 lowercase hex digits']);
    assert.deepEqual(issues({ architecture: 'onnx', trainStep: 't.onnx', loss: 'mse', numClasses: 1, hidden: [3] }).sort(),
      ['model', 'model.inference', 'model.numClasses']);
  });
});

describe('importing a graph pair', () => {
  const initial = initModelState(ZOO, ADAM, 7);

  it('takes parameters, shapes and initial values from the graphs, inputs and class count from the inference graph', () => {
    const { trainStep, inference } = exportedPair(initial);
    const def = importModel(trainStep, inference, { loss: 'softmax-ce' });
    assert.deepEqual(def.inputs, [{ name: 'x', dtype: 'float32', shape: ['B', FEATURES] }]);
    assert.equal(def.outputSize, CLASSES);
    const zoo = modelParameters(ZOO);
    assert.deepEqual(modelParameters(def).params.map((p) => [p.name, p.shape]), zoo.params.map((p) => [p.name, p.shape]));
    const state = initModelState(def, ADAM, 99);
    assert.deepEqual(state.params, initial.params, 'the initializers, whatever the seed');
    assert.deepEqual(state.optimizer, initial.optimizer, 'zero optimizer state');
  });

  it('substitutes trained values for the initializers and keeps every other byte of the graph', () => {
    const { inference } = exportedPair(initial);
    const trained = initModelState(ZOO, ADAM, 8);
    const replaced = replaceInitializers(inference.bytes, trained.params);
    const read = readInitializers(replaced);
    for (const [name, value] of Object.entries(trained.params)) assert.deepEqual(read.get(name)!.values, value);
    const nodes = (b: Uint8Array) => JSON.stringify(decodeModel(b).graph.node);
    assert.equal(nodes(replaced), nodes(inference.bytes));
    // Nothing replaced, nothing re-encoded: the very same bytes.
    assert.ok(Buffer.from(replaceInitializers(inference.bytes, {})).equals(inference.bytes));
    assert.throws(() => replaceInitializers(inference.bytes, { nope: new Float32Array(1) }), /no initializer named 'nope'/);
    assert.throws(() => replaceInitializers(inference.bytes, { 'fc1.bias': new Float32Array(3) }), /initializer 'fc1.bias' \[8\] cannot take 3 float values/);
  });

  it('reads initializers stored as float_data too', () => {
    const Tensor = protobuf.parse('syntax = "proto3"; message T { repeated int64 dims = 1; int32 data_type = 2; repeated float float_data = 4; string name = 8; }', { keepCase: true }).root.lookupType('T');
    const { inference } = exportedPair(initial);
    const bias = Float32Array.from(initial.params['fc2.bias']!);
    const withFloatData = editGraph(inference.bytes, (g) => {
      g.initializer = g.initializer.filter((t) => t.name !== 'fc2.bias');
    });
    // Appends the initializer as field 5 of the graph (field 7 of the model): the protobuf way to extend a message.
    const tensor = Tensor.encode({ dims: [CLASSES], data_type: DataType.float32, float_data: Array.from(bias), name: 'fc2.bias' }).finish();
    const graph = protobuf.Writer.create().uint32((5 << 3) | 2).bytes(tensor).finish();
    const model = new Uint8Array([...withFloatData, ...protobuf.Writer.create().uint32((7 << 3) | 2).bytes(graph).finish()]);
    const read = readInitializers(model);
    assert.deepEqual(read.get('fc2.bias')!.values, bias);
    assert.deepEqual([...read.keys()].sort(), [...readInitializers(inference.bytes).keys()].sort(), 'the two graph fields merge');
  });

  it('refuses a pair that cannot be trained together, naming the file and the culprit', () => {
    const { trainStep, inference } = exportedPair(initial);
    const refused = (t: GraphFile, i: GraphFile, message: RegExp, opts = {}) =>
      assert.throws(() => importModel(t, i, { loss: 'softmax-ce', ...opts }), (e: Error) => e instanceof ImportError && message.test(e.message));
    // Weights left as inputs instead of initializers.
    refused(trainStep, { label: 'bare.onnx', bytes: buildInference(ZOO) }, /^bare\.onnx: inference graph: unexpected input 'fc1\.weight' \(weights must be initializers/);
    const noBias = { label: 'nobias.onnx', bytes: editGraph(inference.bytes, (g) => { g.initializer = g.initializer.filter((t) => t.name !== 'fc1.bias'); }) };
    refused(trainStep, noBias, /^nobias\.onnx: parameter 'fc1\.bias' \[8\] of the train step has no initializer \(its initial value, and where the trained value goes\)$/);
    const fixedBatch = { label: 'fixed.onnx', bytes: editGraph(inference.bytes, (g) => { g.input[0]!.type.tensor_type.shape!.dim[0] = { dim_value: 32 }; }) };
    refused(trainStep, fixedBatch, /^fixed\.onnx: input 'x' has a fixed batch dim 32; it must be symbolic/);
    refused(trainStep, inference, /^inference\.onnx: output 'output' is \[B, 3\] but model\.numClasses is 4/, { numClasses: 4 });
    refused(trainStep, inference, /^inference\.onnx: output 'output' is \[B, 3\] but bce-logits needs one value per sample$/, { loss: 'bce-logits' });
    const undeclared = { label: 'classes.onnx', bytes: editGraph(inference.bytes, (g) => { g.output[0]!.type.tensor_type.shape!.dim[1] = { dim_param: 'C' }; }) };
    refused(trainStep, undeclared, /^classes\.onnx: output 'output' does not declare its class count; give model\.numClasses$/);
    assert.equal(importModel(trainStep, undeclared, { loss: 'softmax-ce', numClasses: 5 }).outputSize, 5);
    refused({ label: 'junk.onnx', bytes: new Uint8Array([1, 2, 3]) }, inference, /^junk\.onnx: not a readable ONNX model/);
    const def = importModel(trainStep, inference, { loss: 'softmax-ce' });
    assert.throws(() => buildTrainStep(def, { name: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0 }),
      (e: Error) => /^train\.onnx: train-step graph: missing input 'fc1\.weight__mom' \(SGD momentum state of parameter 'fc1\.weight'\)/.test(e.message));
  });

  it('trains bit-identically to the zoo model it was exported from, and evaluates alike', async () => {
    const { trainStep, inference } = exportedPair(initial);
    const def = importModel(trainStep, inference, { loss: 'softmax-ce' });
    const run = (model: typeof ZOO, state: ModelState) => trainModel({ model, optimizer: ADAM, state, batches: stream(blobBatches(3, 30)), checkpointEvery: 0, seed: 5 });
    const [zoo, user] = [await run(ZOO, initial), await run(def, initModelState(def, ADAM, 1))];
    assert.deepEqual(user.state, zoo.state);
    assert.ok(user.finalLoss < 0.5, `final loss ${user.finalLoss}`);
    const evaluate = (bytes: Uint8Array) => evaluateModel(bytes, stream(blobBatches(4, 3)), { inputs: def.inputs, loss: def.loss });
    const [zooEval, userEval] = [await evaluate(exportInferenceModel(ZOO, zoo.state)), await evaluate(exportInferenceModel(def, user.state))];
    assert.deepEqual(userEval, zooEval);
    assert.ok(userEval.accuracy > 0.9, `accuracy ${userEval.accuracy}`);
  });
});

describe('graph files named by a spec', () => {
  let dir: string;
  let store: ModelStore;
  const initial = initModelState(ZOO, ADAM, 7);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tideline-byo-'));
    store = new ModelStore(join(dir, 'store'));
    const { trainStep, inference } = exportedPair(initial);
    await writeFile(join(dir, 'train.onnx'), trainStep.bytes);
    await writeFile(join(dir, 'inference.onnx'), inference.bytes);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const load = (model: Partial<UserModelSpec>, features = FEATURES, categorical = 0) => loadUserModel(store, {
    architecture: 'onnx', trainStep: join(dir, 'train.onnx'), inference: join(dir, 'inference.onnx'), loss: 'softmax-ce', ...model,
  }, features, categorical);
  const refused = (p: Promise<unknown>, message: RegExp) => assert.rejects(p, (e: Error) => e instanceof UserGraphError && message.test(e.message));

  /** The spec's model as `tide run` leaves it: files given relative to the spec's folder, pinned into the store. */
  const pinned = () => pinUserModel(store, { architecture: 'onnx', trainStep: 'train.onnx', inference: join(dir, 'inference.onnx'), loss: 'softmax-ce' }, dir);

  it('pins files into the store content-addressed and loads them by reference', async () => {
    const model = await pinned();
    assert.match(model.trainStep, /^store:graphs\/[0-9a-f]{64}\/train\.onnx$/);
    assert.ok(model.trainStep.includes(model.trainStepSha256!));
    assert.match(model.inference, new RegExp(`^store:graphs/${model.inferenceSha256}/inference\\.onnx$`));
    const def = await loadUserModel(store, model, FEATURES, 0);
    assert.deepEqual(initModelState(def, ADAM, 1).params, initial.params);
    // Pinning again keeps store references; a hash that does not match its file is refused.
    assert.deepEqual(await pinUserModel(store, model, '/elsewhere'), model);
    await refused(pinUserModel(store, { ...model, inference: join(dir, 'inference.onnx'), inferenceSha256: SHA }, dir),
      new RegExp(`^model\\.inferenceSha256: ${SHA}, but ${dir}/inference\\.onnx has sha256 ${model.inferenceSha256}$`));
    await refused(pinUserModel(store, { ...model, trainStep: 'gone.onnx' }, dir), /^model\.trainStep: cannot read .*gone\.onnx \(ENOENT\)$/);
  });

  it('refuses a missing or wrong hash, a relative path and a missing file', async () => {
    const { trainStepSha256, inferenceSha256 } = await pinned();
    const hashes = { trainStepSha256, inferenceSha256 };
    await refused(load({}), /^model\.trainStepSha256: missing/);
    await load(hashes);
    await refused(load({ ...hashes, inferenceSha256: SHA }),
      new RegExp(`^model\\.inference \\(${dir}/inference\\.onnx\\): its sha256 is ${hashes.inferenceSha256}, but the spec pins ${SHA}: the file changed after the pipeline was started`));
    await refused(load({ ...hashes, trainStep: 'train.onnx' }), /^model\.trainStep \(train\.onnx\): 'train\.onnx' is a relative path, which workers cannot resolve/);
    await refused(load({ ...hashes, trainStep: join(dir, 'gone.onnx') }), /^model\.trainStep \(.*gone\.onnx\): cannot read .*gone\.onnx \(ENOENT\)/);
    await refused(load({ ...hashes, trainStep: 'store:../outside.onnx' }), /is outside the model store/);
  });

  it("refuses inputs the dataset's batches cannot feed", async () => {
    await refused(loadUserModel(store, await pinned(), 12, 0), /^model\.inference \(.*\): input 'x' \[B, 6\] takes 6 values per sample, but the dataset's samples have 12 features/);
  });
});
