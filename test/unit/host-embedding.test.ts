/**
 * Embedding tables held in the training worker (layers/host-embedding.ts, wasm-table.ts, session-host-tables.ts):
 * the rows-input layers' gradients against finite differences, the row-sparse optimizers against a naive reference,
 * and training through trainModel against the same model with its table in the graph (lazily updated: the first step
 * and plain SGD bit-identical; densely: bit-identical for every optimizer); the worker's store, checkpoints,
 * stepsPerRun, DLRM with a lazily and a densely updated table end to end (train, export, evaluate, state file).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import type { Batch } from '../../lib/data/batch.js';
import { evaluateModel } from '../../lib/eval/evaluate.js';
import { exportInferenceModel } from '../../lib/models/export.js';
import { Tape, type TableUpdateMode } from '../../lib/onnx/autodiff/tape.js';
import { GraphBuilder } from '../../lib/onnx/graph.js';
import { relu } from '../../lib/onnx/layers/activations.js';
import { concat } from '../../lib/onnx/layers/concat.js';
import { embedding } from '../../lib/onnx/layers/embedding.js';
import { hostEmbedding, hostEmbeddingBag } from '../../lib/onnx/layers/host-embedding.js';
import { linear } from '../../lib/onnx/layers/linear.js';
import { flatten } from '../../lib/onnx/layers/reshape.js';
import { buildInference, buildTrainStep, modelParameters } from '../../lib/onnx/models/build.js';
import { dlrmModel, lazyTableFeatures } from '../../lib/onnx/models/dlrm.js';
import type { ModelDefinition } from '../../lib/onnx/models/model.js';
import type { OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { scalar } from '../../lib/onnx/ops.js';
import { SessionHost, type TensorData } from '../../lib/onnx/session-host.js';
import type { HostTableList } from '../../lib/onnx/session-protocol.js';
import { tableRows, type TableRule } from '../../lib/onnx/session-host-tables.js';
import { sparseUpdate } from '../helpers/table-update-reference.js';
import { hostTableRuns, hostTensorNames } from '../../lib/train/host-tables.js';
import { initModelState, readModelState, writeModelState, type ModelState } from '../../lib/train/model-state.js';
import { storedFeeds, toTensors } from '../../lib/train/state-tensors.js';
import { NonFiniteLossError, trainModel, type TrainOptions } from '../../lib/train/trainer.js';
import { createRng } from '../../lib/rng.js';
import { maxAbs, SESSION_OPTS, uniform } from '../helpers/gradcheck.js';

const ADAM: OptimizerConfig = { name: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
const PLAIN_SGD: OptimizerConfig = { name: 'sgd', lr: 0.1, momentum: 0, weightDecay: 0 };

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

async function* stream<T>(items: T[]): AsyncGenerator<T> {
  for (const b of items) yield b;
}

function assertBitIdentical(a: Record<string, Float32Array>, b: Record<string, Float32Array>, what: string): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${what}: names`);
  for (const [name, v] of Object.entries(a)) assert.ok(Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(b[name]!.buffer, b[name]!.byteOffset, b[name]!.byteLength)), `${what} ${name} differs`);
}

function assertStatesBitIdentical(a: ModelState, b: ModelState): void {
  assert.equal(a.step, b.step);
  for (const group of ['params', 'buffers', 'optimizer'] as const) assertBitIdentical(a[group], b[group], group);
}

describe('rows-input layers: gradients against finite differences', () => {
  /**
   * loss = Σ r·layer(rows) on a training tape; compares `<rows>__grad` with central differences of the loss in each
   * coordinate of the rows input (float64-free: eps 1e-2, float32 loss, as test/helpers/gradcheck.ts). Rows at
   * `padding` positions are fed as the worker gathers them, zeros, and are not perturbed.
   */
  async function checkRows(
    ids: number[], shape: [number, number], layer: (t: Tape, ids: string) => string, padding: (position: number) => boolean = () => false,
  ): Promise<Float32Array> {
    const g = new GraphBuilder('probe');
    const t = new Tape(g, { training: true, params: { kind: 'inputs' } });
    const idsIn = t.setShape(g.input('ids', 'int64', shape), shape);
    const out = layer(t, idsIn);
    const [host] = t.hostTables;
    const rShape = t.shape(out) as number[];
    const r = g.input('r', 'float32', rShape);
    const loss = g.op('ReduceSum', [g.op('Mul', [out, r])], { keepdims: 0 });
    t.record([out], [loss], ([d]) => [g.op('Mul', [r, d!])]);
    const grad = t.gradients({ [loss]: scalar(g, 1) }, [host!.rows]).get(host!.rows)!;
    g.output('loss', loss, 'float32');
    g.output('grad', grad, 'float32');
    const session = await ort.InferenceSession.create(g.toBytes(), SESSION_OPTS);
    const rng = createRng(3);
    const rowsShape = [...shape, 4];
    const rows = uniform(rng, rowsShape.reduce((a, b) => a * b, 1));
    ids.forEach((_, p) => { if (padding(p)) rows.fill(0, p * 4, p * 4 + 4); });
    const rv = uniform(rng, rShape.reduce((a, b) => a * b, 1));
    const run = async (x: Float32Array) => session.run({
      ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), shape),
      [host!.rows]: new ort.Tensor('float32', x, rowsShape),
      r: new ort.Tensor('float32', rv, rShape),
    });
    const analytic = (await run(rows)).grad!.data as Float32Array;
    const scale = Math.max(maxAbs(analytic), 1e-3);
    for (let i = 0; i < rows.length; i++) {
      if (padding(Math.floor(i / 4))) continue;
      const plus = rows.slice();
      const minus = rows.slice();
      plus[i]! += 1e-2;
      minus[i]! -= 1e-2;
      const numeric = (((await run(plus)).loss!.data as Float32Array)[0]! - ((await run(minus)).loss!.data as Float32Array)[0]!) / (plus[i]! - minus[i]!);
      assert.ok(Math.abs(analytic[i]! - numeric) / scale < 1e-3, `rows[${i}]: analytic ${analytic[i]} vs numeric ${numeric}`);
    }
    return analytic;
  }

  it('hostEmbedding: the rows are the output; their gradient is the output gradient', async () => {
    await checkRows([1, 3, 3, 5, 0, 1], [3, 2], (t, ids) => {
      const e = hostEmbedding(t, 'emb', ids, { vocab: 6, dim: 4, source: { input: 'ids', columns: [0, 1], padding: false }, update: 'lazy' });
      assert.deepEqual(t.shape(e), [3, 2, 4]);
      return e;
    });
  });

  for (const mode of ['sum', 'mean'] as const) {
    it(`hostEmbeddingBag (${mode}): padding rows get no gradient`, async () => {
      const ids = [1, 2, -1, -1, 3, 3, 5, 1, -1, -1, -1, -1];
      const grad = await checkRows(ids, [3, 4], (t, x) => hostEmbeddingBag(t, 'bag', x, {
        vocab: 6, dim: 4, mode, source: { input: 'ids', columns: [0, 1, 2, 3], padding: true }, update: 'lazy',
      }), (p) => ids[p]! < 0);
      // Zero there all the same: global-norm clipping sums the rows' gradient by id, padding mapped to row 0.
      ids.forEach((id, p) => { if (id < 0) assert.ok(grad.subarray(p * 4, p * 4 + 4).every((v) => v === 0), `padding ${p}`); });
    });
  }

  it('on a tape that embeds weights (the export) they are the in-graph layers; ids are checked against the source', () => {
    const weights = { 'emb.weight': new Float32Array(24) };
    const t = new Tape(new GraphBuilder('x'), { training: false, params: { kind: 'weights', weights } });
    const ids = t.setShape(t.g.input('ids', 'int64', ['B', 2]), ['B', 2]);
    hostEmbedding(t, 'emb', ids, { vocab: 6, dim: 4, source: { input: 'ids', columns: [0, 1], padding: false }, update: 'lazy' });
    assert.deepEqual(t.hostTables, []);
    assert.deepEqual(t.params.map((p) => p.name), ['emb.weight']);
    const u = new Tape(new GraphBuilder('y'), { training: false, params: { kind: 'inputs' } });
    const uIds = u.setShape(u.g.input('ids', 'int64', ['B', 2]), ['B', 2]);
    assert.throws(() => hostEmbedding(u, 'emb', uIds, { vocab: 6, dim: 4, source: { input: 'ids', columns: [0], padding: false }, update: 'lazy' }), /ids have 2 columns, the source names 1/);
  });
});

describe('row-sparse optimizers', () => {
  /**
   * The lazy update written out naively: dense per-row gradient sums in float64, every row visited, touched rows
   * (those with an occurrence) updated with the textbook formulas.
   */
  function reference(table: Float64Array, states: Float64Array[], dim: number, rows: number[], grad: Float32Array, rule: TableRule, lr: number, step: number): void {
    const vocab = table.length / dim;
    for (let r = 0; r < vocab; r++) {
      if (!rows.includes(r)) continue;
      for (let k = 0; k < dim; k++) {
        const i = r * dim + k;
        let g = 0;
        rows.forEach((rr, p) => { if (rr === r) g += grad[p * dim + k]!; });
        if (rule.name === 'sgd') {
          if (rule.weightDecay) g += rule.weightDecay * table[i]!;
          states[0]![i] = rule.momentum * states[0]![i]! + g;
          table[i]! -= lr * (rule.nesterov ? g + rule.momentum * states[0]![i]! : states[0]![i]!);
        } else {
          if (rule.name === 'adamw') table[i]! *= 1 - lr * rule.weightDecay;
          else if (rule.weightDecay) g += rule.weightDecay * table[i]!;
          states[0]![i] = rule.beta1 * states[0]![i]! + (1 - rule.beta1) * g;
          states[1]![i] = rule.beta2 * states[1]![i]! + (1 - rule.beta2) * g * g;
          const mHat = states[0]![i]! / (1 - rule.beta1 ** step);
          const vHat = states[1]![i]! / (1 - rule.beta2 ** step);
          table[i]! -= (lr * mHat) / (Math.sqrt(vHat) + rule.eps);
        }
      }
    }
  }

  const rules: TableRule[] = [
    { name: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 },
    { name: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.01 },
    { name: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
    { name: 'adam', beta1: 0.9, beta2: 0.99, eps: 1e-6, weightDecay: 0.01 },
    { name: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 },
  ];
  for (const rule of rules) {
    it(`${rule.name}${rule.name === 'sgd' && rule.nesterov ? ' (nesterov)' : ''}, weight decay ${rule.weightDecay}: repeated ids over 5 steps match the naive reference; untouched rows keep row and state`, () => {
      const [vocab, dim] = [7, 3];
      const rng = createRng(11);
      const table = uniform(rng, vocab * dim);
      const states = (rule.name === 'sgd' ? [0] : [0, 1]).map(() => new Float32Array(vocab * dim));
      const ref = Float64Array.from(table);
      const refStates = states.map(() => new Float64Array(vocab * dim));
      // Row 6 is never touched; rows 1 and 4 repeat within steps.
      const steps = [[1, 1, 4, 2], [4, 4, 4, 0], [3, 1, 1, 5], [0, 2, 4, 4], [5, 5, 1, 3]];
      steps.forEach((rows, s) => {
        const grad = uniform(rng, rows.length * dim);
        const lr = Math.fround(0.05 / (1 + s));
        sparseUpdate(table, states, dim, Int32Array.from(rows), grad, rule, lr, s + 1);
        reference(ref, refStates, dim, rows, grad, rule, lr, s + 1);
      });
      table.forEach((v, i) => assert.ok(Math.abs(v - ref[i]!) < 2e-6, `table[${i}]: ${v} vs ${ref[i]}`));
      states.forEach((st, j) => st.forEach((v, i) => assert.ok(Math.abs(v - refStates[j]![i]!) < 2e-6, `state ${j}[${i}]: ${v} vs ${refStates[j]![i]}`)));
      assert.deepEqual(Array.from(states[0]!.subarray(6 * dim)), [0, 0, 0]);
    });
  }

  it('hashes raw ids as id mod vocab (negative ids too); bag sources refuse ids out of range, naming the table', () => {
    const ids = BigInt64Array.from([7n, -3n, 12n, 5n], (v) => v);
    assert.deepEqual(Array.from(tableRows(ids, 2, { input: 'sparse', columns: [0, 1], padding: false }, 5, 't')), [2, 2, 2, 0]);
    assert.deepEqual(Array.from(tableRows(ids, 2, { input: 'sparse', columns: [1], padding: false }, 5, 't')), [2, 0]);
    assert.deepEqual(Array.from(tableRows(BigInt64Array.from([3n, -1n]), 2, { input: 'tokens', columns: [0, 1], padding: true }, 5, 't')), [3, -1]);
    assert.deepEqual(Array.from(tableRows(BigInt64Array.from([3n, 12n]), 2, { input: 'tokens', columns: [0, 1], padding: true }, 5, 't')), [3, 2]);
    assert.throws(() => tableRows(BigInt64Array.from([3n, -2n]), 2, { input: 'tokens', columns: [0, 1], padding: true }, 5, 'bag.weight'),
      /host table bag\.weight: id -2 \(sample 0, column 1\) is negative and not padding \(-1\)/);
  });

  it('gives every 64-bit id the row BigInt arithmetic gives, for small and huge vocabularies', () => {
    const edges = [0n, 1n, -1n, 2n ** 31n, -(2n ** 31n), 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 7n, 2n ** 63n - 1n, -(2n ** 63n)];
    let seed = 12345n;
    const random = Array.from({ length: 500 }, () => BigInt.asIntN(64, (seed = (seed * 6364136223846793005n + 1442695040888963407n) & (2n ** 64n - 1n))));
    const ids = BigInt64Array.from([...edges, ...random]);
    for (const vocab of [1, 5, 32_768, 1_000_003, 2 ** 26, 2 ** 26 + 1, 2 ** 31 - 1]) {
      const v = BigInt(vocab);
      const expected = Array.from(ids, (id) => Number(((id % v) + v) % v));
      assert.deepEqual(Array.from(tableRows(ids, 1, { input: 'sparse', columns: [0], padding: false }, vocab, 't')), expected, `vocab ${vocab}`);
    }
  });
});

describe('session host', () => {
  it('get with take moves stored tensors out of the worker without keeping them', async () => {
    const host = new SessionHost();
    try {
      await host.put({ t: { type: 'float32', dims: [2, 2], data: Float32Array.of(1, 2, 3, 4) } });
      assert.deepEqual(Array.from((await host.get(['t'])).t!.data as Float32Array), [1, 2, 3, 4]);
      assert.deepEqual(Array.from((await host.get(['t'], { take: true })).t!.data as Float32Array), [1, 2, 3, 4]);
      await assert.rejects(host.get(['t']), /no stored tensor 't'/);
    } finally {
      await host.close();
    }
  });
});

describe('training with host tables', () => {
  const [VOCAB, FIELDS, DIM, DENSE, CLASSES] = [50, 3, 4, 5, 3];

  /**
   * Dense features through a ReLU layer, concatenated with the flattened embeddings of hashed ids; the table in the
   * graph or held in the worker with a lazy or dense update.
   */
  function probeModel(table: 'graph' | TableUpdateMode): ModelDefinition {
    return {
      architecture: 'host-probe',
      inputs: [{ name: 'x', dtype: 'float32', shape: ['B', DENSE] }, { name: 'ids', dtype: 'int64', shape: ['B', FIELDS] }],
      loss: 'softmax-ce',
      outputSize: CLASSES,
      forward(t, { x, ids }) {
        const { g } = t;
        const hashed = t.setShape(g.op('Mod', [ids!, g.const('int64', [FIELDS], new Array<number>(FIELDS).fill(VOCAB))], { fmod: 0 }), t.shape(ids!));
        const opts = { vocab: VOCAB, dim: DIM };
        const e = table === 'graph'
          ? embedding(t, 'emb', hashed, opts)
          : hostEmbedding(t, 'emb', hashed, { ...opts, source: { input: 'ids', columns: [0, 1, 2], padding: false }, update: table });
        const h = concat(t, [flatten(t, e), relu(t, linear(t, 'fc0', x!, 6))], 1);
        return { output: linear(t, 'fc1', h, CLASSES), embedding: h, embeddingSize: FIELDS * DIM + 6 };
      },
    };
  }
  const HOST = probeModel('lazy');
  const DENSE_HOST = probeModel('dense');
  const IN_GRAPH = probeModel('graph');

  /** Labels from the first field's bucket; raw ids are buckets plus multiples of VOCAB (negative too); ids repeat within batches. */
  function batches(seed: number, count: number, size = 16): Batch[] {
    const rng = createRng(seed);
    return Array.from({ length: count }, () => {
      const categorical = Int32Array.from({ length: size * FIELDS }, () => rng.int(12) + VOCAB * (rng.int(2000) - 1000));
      const y = Int32Array.from({ length: size }, (_, s) => (((categorical[s * FIELDS]! % VOCAB) + VOCAB) % VOCAB) % CLASSES);
      const x = Float32Array.from({ length: size * DENSE }, () => rng.normal());
      return { x, y, w: new Float32Array(size).fill(1), size, features: DENSE, categorical, categoricalCount: FIELDS };
    });
  }

  const run = (model: ModelDefinition, optimizer: OptimizerConfig, data: Batch[], extra: Partial<TrainOptions> = {}) => trainModel({
    model, optimizer, state: initModelState(model, optimizer, 7), batches: stream(data), checkpointEvery: 0, ...extra,
  });

  it('declares the table as a parameter (same name, same initialization) and its rows as an input', () => {
    const host = modelParameters(HOST);
    assert.deepEqual(host.params.map((p) => p.name), modelParameters(IN_GRAPH).params.map((p) => p.name));
    assert.deepEqual(host.hostTables.map((h) => [h.param.name, h.rows]), [['emb.weight', 'emb.rows']]);
    assertBitIdentical(initModelState(HOST, ADAM, 7).params, initModelState(IN_GRAPH, ADAM, 7).params, 'init');
  });

  it('plain SGD on a learning-rate schedule: parameters bit-identical to the in-graph table', async () => {
    const learningRate = (step: number) => 0.2 / (1 + step / 10);
    const a = await run(HOST, PLAIN_SGD, batches(1, 25), { learningRate });
    const b = await run(IN_GRAPH, PLAIN_SGD, batches(1, 25), { learningRate });
    assertBitIdentical(a.state.params, b.state.params, 'params');
    assert.equal(a.finalLoss, b.finalLoss);
  });

  for (const [mode, model] of [['lazy', HOST], ['dense', DENSE_HOST]] as const) {
    it(`global-norm clipping counts the table gradient (repeated ids summed first): the same norms and parameters as in the graph (${mode} update)`, async () => {
      const clipped: OptimizerConfig = { ...PLAIN_SGD, clipGradNorm: 0.5 };
      const normsA: number[] = [];
      const normsB: number[] = [];
      const a = await run(model, clipped, batches(2, 10), { onProgress: (p) => normsA.push(p.gradNorm!) });
      const b = await run(IN_GRAPH, clipped, batches(2, 10), { onProgress: (p) => normsB.push(p.gradNorm!) });
      assert.ok(a.gradNorm!.clippedSteps > 0);
      normsA.forEach((n, i) => assert.ok(Math.abs(n - normsB[i]!) <= 1e-5 * normsB[i]!, `step ${i + 1}: norm ${n} vs ${normsB[i]}`));
      // The squares are summed in another order, and the clip coefficient scales each occurrence's gradient before
      // the sum (the graph scales the sum), so parameters may differ in the last bits.
      for (const [name, v] of Object.entries(a.state.params)) {
        v.forEach((x, i) => assert.ok(Math.abs(x - b.state.params[name]![i]!) < 1e-6, `${name}[${i}]: ${x} vs ${b.state.params[name]![i]}`));
      }
    });
  }

  it('Adam: the first step equals the dense update; later, untouched rows and their state stay as they were (lazy)', async () => {
    const a = await run(HOST, ADAM, batches(3, 1));
    const b = await run(IN_GRAPH, ADAM, batches(3, 1));
    assertBitIdentical(a.state.params, b.state.params, 'params after one step');
    const many = await run(HOST, ADAM, batches(4, 8));
    const init = initModelState(HOST, ADAM, 7).params['emb.weight']!;
    // Buckets 12..49 never occur in the data.
    assert.deepEqual(Array.from(many.state.params['emb.weight']!.subarray(12 * DIM)), Array.from(init.subarray(12 * DIM)));
    assert.ok(many.state.optimizer['emb.weight__v']!.subarray(12 * DIM).every((v) => v === 0));
    assert.ok(many.state.optimizer['emb.weight__v']!.subarray(0, 12 * DIM).some((v) => v > 0));
  });

  /** Each optimizer, and whether its weight decay moves rows the data never touches. */
  const denseOptimizers: [string, OptimizerConfig, boolean][] = [
    ['Adam', ADAM, false],
    ['Adam with weight decay', { ...ADAM, weightDecay: 0.05 }, true],
    ['AdamW', { ...ADAM, name: 'adamw', weightDecay: 0.1 }, true],
    ['SGD with Nesterov momentum and weight decay', { name: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }, true],
    ['Adam with a parameter group for the table', { ...ADAM, groups: [{ match: 'emb.', lr: 0.003, weightDecay: 0.02 }] }, true],
  ];
  for (const [what, optimizer, decays] of denseOptimizers) {
    it(`dense update, ${what}: parameters and optimizer state bit-identical to the in-graph table, untouched rows included`, async () => {
      const learningRate = (step: number) => 1 / (1 + step / 4);
      const a = await run(DENSE_HOST, optimizer, batches(10, 9), { learningRate });
      const b = await run(IN_GRAPH, optimizer, batches(10, 9), { learningRate });
      assertStatesBitIdentical(a.state, b.state);
      assert.equal(a.finalLoss, b.finalLoss);
      // Buckets 12..49 never occur in the data.
      const untouched = (t: Float32Array) => Array.from(t.subarray(12 * DIM));
      const moved = untouched(a.state.params['emb.weight']!).some((v, i) => v !== untouched(initModelState(DENSE_HOST, optimizer, 7).params['emb.weight']!)[i]);
      assert.equal(moved, decays);
    });
  }

  it('a held table in the session worker: get copies it out, put replaces it, get with take moves it out', async () => {
    const { params, buffers, hostTables } = modelParameters(DENSE_HOST);
    const initial = toTensors(initModelState(DENSE_HOST, ADAM, 7), params, buffers, ADAM);
    const hostNames = hostTensorNames(hostTables, ADAM);
    const graphNames = Object.keys(initial).filter((n) => !hostNames.has(n));
    const b = batches(12, 1)[0]!;
    const scalar = (v: number): TensorData => ({ type: 'float32', dims: [], data: Float32Array.of(v) });
    const host = new SessionHost();
    // One list for every step, as the trainer keeps: its descriptions go to the worker with the first run only.
    const tables = hostTableRuns(hostTables, ADAM);
    const sent: (HostTableList | null)[] = [];
    const request = host.request.bind(host);
    host.request = (req, ...rest) => {
      if (req.op === 'run') sent.push(req.tables);
      return request(req, ...rest);
    };
    try {
      let session = await host.createSession(buildTrainStep(DENSE_HOST, ADAM));
      const step = () => session.run({
        ...storedFeeds(graphNames),
        x: { type: 'float32', dims: [b.size, DENSE], data: b.x },
        ids: { type: 'int64', dims: [b.size, FIELDS], data: BigInt64Array.from(b.categorical!, BigInt) },
        y: { type: 'int64', dims: [b.size], data: BigInt64Array.from(b.y, BigInt) },
        w: { type: 'float32', dims: [b.size], data: b.w },
        lr: scalar(ADAM.lr), step: scalar(1), rng_seed: scalar(0),
      }, { fetch: ['loss'], keep: Object.fromEntries(graphNames.map((n) => [`${n}__new`, n])), tables });
      const names = ['emb.weight', 'emb.weight__m', 'emb.weight__v'];
      await host.put(initial);
      await step();
      const first = await host.get(names);
      await step();
      const second = await host.get(names);
      assert.notDeepEqual(Array.from(first['emb.weight']!.data as Float32Array), Array.from(second['emb.weight']!.data as Float32Array));
      assert.deepEqual(first['emb.weight']!.dims, [VOCAB, DIM]);
      // Back to the initial state: the same step gives the same table and state again.
      await host.put(initial);
      await step();
      const again = await host.get(names, { take: true });
      for (const n of names) assert.deepEqual(Array.from(again[n]!.data as Float32Array), Array.from(first[n]!.data as Float32Array), n);
      await assert.rejects(host.get(['emb.weight']), /no stored tensor 'emb\.weight'/);
      assert.deepEqual(sent.map((t) => t?.runs?.map((r) => r.table)), [['emb.weight'], undefined, undefined], 'the descriptions, then the id');
      assert.ok(sent.every((t) => t?.id === sent[0]!.id));
      // The worker keeps a list with the session that was sent it: another session is sent it again.
      await session.release();
      session = await host.createSession(buildTrainStep(DENSE_HOST, ADAM));
      await host.put(initial);
      await step();
      assert.deepEqual(sent.at(-1)?.runs?.map((r) => r.table), ['emb.weight']);
    } finally {
      await host.close();
    }
  });

  it('a gather-only run (the selection forward) feeds the held table\'s rows and leaves table and state as they were', async () => {
    const { params, buffers, hostTables } = modelParameters(HOST);
    const state = initModelState(HOST, ADAM, 7);
    const hostNames = hostTensorNames(hostTables, ADAM);
    const tables = hostTableRuns(hostTables, ADAM);
    const [first, second] = batches(13, 2);
    const scalar = (v: number): TensorData => ({ type: 'float32', dims: [], data: Float32Array.of(v) });
    const host = new SessionHost();
    try {
      const initial = toTensors(state, params, buffers, ADAM);
      await host.put(initial);
      const stepNames = Object.keys(initial).filter((n) => !hostNames.has(n));
      const graphNames = [...params, ...buffers].map((s) => s.name).filter((n) => !hostNames.has(n));
      const names = ['emb.weight', 'emb.weight__m', 'emb.weight__v'];
      // A train step moves the table into the worker's wasm memory; the forward then reads it there.
      const train = await host.createSession(buildTrainStep(HOST, ADAM));
      await train.run({
        ...storedFeeds(stepNames),
        x: { type: 'float32', dims: [first!.size, DENSE], data: first!.x },
        ids: { type: 'int64', dims: [first!.size, FIELDS], data: BigInt64Array.from(first!.categorical!, BigInt) },
        y: { type: 'int64', dims: [first!.size], data: BigInt64Array.from(first!.y, BigInt) },
        w: { type: 'float32', dims: [first!.size], data: first!.w },
        lr: scalar(ADAM.lr), step: scalar(1), rng_seed: scalar(0),
      }, { fetch: ['loss'], keep: Object.fromEntries(stepNames.map((n) => [`${n}__new`, n])), tables });
      const before = await host.get([...graphNames, ...names]);
      const forward = await host.createSession(buildInference(HOST));
      const ids: TensorData = { type: 'int64', dims: [second!.size, FIELDS], data: BigInt64Array.from(second!.categorical!, BigInt) };
      const x: TensorData = { type: 'float32', dims: [second!.size, DENSE], data: second!.x };
      const out = await forward.run({ ...storedFeeds(graphNames), x, ids }, { fetch: ['output'], tables, gatherOnly: true });
      const after = await host.get(names);
      for (const n of names) assert.deepEqual(after[n]!.data, before[n]!.data, `${n} unchanged`);
      const weights = Object.fromEntries([...graphNames, 'emb.weight'].map((n) => [n, before[n]!.data as Float32Array]));
      const embedded = await host.createSession(buildInference(HOST, weights));
      const expected = await embedded.run({ x, ids }, { fetch: ['output'] });
      assert.deepEqual(out.output!.data, expected.output!.data);
    } finally {
      await host.close();
    }
  });

  it('parameter groups: the table follows its group\'s learning rate and weight decay', async () => {
    const grouped: OptimizerConfig = { ...ADAM, groups: [{ match: 'emb.', lr: 0 }] };
    const r = await run(HOST, grouped, batches(5, 4));
    assertBitIdentical({ t: r.state.params['emb.weight']! }, { t: initModelState(HOST, ADAM, 7).params['emb.weight']! }, 'table at lr 0');
    assert.ok(r.state.optimizer['emb.weight__m']!.some((v) => v !== 0), 'the moments still move at lr 0');
    const sgdGroup: OptimizerConfig = { name: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0, groups: [{ match: 'emb.', weightDecay: 0.5 }] };
    const decayed = await run(HOST, sgdGroup, batches(5, 4));
    const plain = await run(HOST, { ...sgdGroup, groups: undefined }, batches(5, 4));
    assert.notDeepEqual(Array.from(decayed.state.params['emb.weight']!), Array.from(plain.state.params['emb.weight']!));
  });

  for (const [mode, model] of [['lazy', HOST], ['dense', DENSE_HOST]] as const) {
    it(`resumes from a checkpoint file bit-identically to an uninterrupted run (${mode} update)`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'host-tables-'));
      try {
        const opt: OptimizerConfig = { ...ADAM, name: 'adamw', weightDecay: 0.01, clipGradNorm: 1 };
        const full = await run(model, opt, batches(6, 12), { seed: 3 });
        let path: string | undefined;
        const checkpoints: ModelState[] = [];
        await run(model, opt, batches(6, 12).slice(0, 10), {
          seed: 3, checkpointEvery: 5,
          onCheckpoint: async (state) => {
            checkpoints.push(state);
            if (checkpoints.length === 1) await writeModelState((path = join(dir, 'ckpt.state')), state);
          },
        });
        // A checkpoint is a copy: training on after it leaves it as it was.
        assert.notDeepEqual(Array.from(checkpoints[0]!.params['emb.weight']!), Array.from(checkpoints[1]!.params['emb.weight']!));
        const { state } = await readModelState(path!);
        assertStatesBitIdentical(state, checkpoints[0]!);
        const resumed = await trainModel({ model, optimizer: opt, state, batches: stream(batches(6, 12).slice(5)), checkpointEvery: 0 });
        assertStatesBitIdentical(resumed.state, full.state);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('a non-finite loss stops training with NonFiniteLossError naming the step, as for in-graph tables', async () => {
    const data = batches(9, 4);
    data[2]!.x[0] = Number.NaN;
    await assert.rejects(run(HOST, ADAM, data), (e: Error) => e instanceof NonFiniteLossError && e.step === 3);
  });

  it('stepsPerRun > 1 runs that many single steps a request: bit-identical to stepsPerRun 1, losses included', async () => {
    const a = await run(HOST, ADAM, batches(8, 7), { stepsPerRun: 3 });
    const b = await run(HOST, ADAM, batches(8, 7), { stepsPerRun: 1 });
    assert.equal(a.stepsPerRun, 3);
    assertStatesBitIdentical(a.state, b.state);
    assert.equal(a.finalLoss, b.finalLoss);
    assert.equal(a.meanLoss, b.meanLoss);
    await assert.rejects(run(HOST, ADAM, batches(8, 1), { stepsPerRun: 0 }), /stepsPerRun 0 is not a positive integer/);
  });
});

describe('DLRM with a table over the lazy-update threshold', () => {
  const [DENSE, VOCABS, DIM] = [4, [70_000, 40], 16];
  const DLRM = dlrmModel({ denseFeatures: DENSE, sparseFeatures: 2, vocabSizes: VOCABS, embeddingDim: DIM, bottom: [16], top: [16] });

  it('holds both tables in the worker: the large one updated lazily, the small one densely', () => {
    assert.deepEqual(lazyTableFeatures(VOCABS, DIM), [true, false]);
    // 26 tables of 80k values: 2.08M in all, so the largest (the first) is updated lazily.
    assert.deepEqual(lazyTableFeatures(new Array<number>(26).fill(5000), 16), [true, ...new Array<boolean>(25).fill(false)]);
    assert.deepEqual(lazyTableFeatures(new Array<number>(26).fill(4096), 16), new Array<boolean>(26).fill(false));
    assert.deepEqual(modelParameters(DLRM).hostTables.map((h) => [h.rows, h.update]), [['emb.0.rows', 'lazy'], ['emb.1.rows', 'dense']]);
  });

  it('export refuses weights beyond protobuf\'s 2 GiB, naming the largest tensor', () => {
    // Zero-filled and never written here, so its pages are not touched.
    const state = { params: { 'emb.0.weight': new Float32Array(2 ** 29) }, buffers: {} };
    assert.throws(() => exportInferenceModel(DLRM, state), /2147483648 bytes of weights \(largest: 'emb\.0\.weight', 536870912 values\).*protobuf's 2 GiB limit/);
  });

  /** Clicks decided by one of 300 popular buckets of field 0 (raw ids: bucket plus multiples of the vocabulary) and a dense feature. */
  const scores = (() => {
    const rng = createRng(5);
    return Float32Array.from({ length: 300 }, () => 2 * rng.normal());
  })();
  function clicks(seed: number, count: number, size = 64): Batch[] {
    const rng = createRng(seed);
    return Array.from({ length: count }, () => {
      const x = Float32Array.from({ length: size * DENSE }, () => rng.normal());
      const categorical = new Int32Array(size * 2);
      const y = Int32Array.from({ length: size }, (_, s) => {
        const bucket = rng.int(300);
        categorical[s * 2] = bucket * 200 + VOCABS[0]! * (rng.int(20_000) - 10_000);
        categorical[s * 2 + 1] = rng.int(1_000_000);
        const z = scores[bucket]! + x[s * DENSE]!;
        return rng.next() < 1 / (1 + Math.exp(-2 * z)) ? 1 : 0;
      });
      return { x, y, w: new Float32Array(size).fill(1), size, features: DENSE, categorical, categoricalCount: 2 };
    });
  }

  it('trains (loss falls), exports a plain graph that evaluates well above the base rate, and round-trips its state file', async () => {
    const losses: number[] = [];
    const r = await trainModel({
      model: DLRM, optimizer: ADAM, state: initModelState(DLRM, ADAM, 1), batches: stream(clicks(1, 150)), checkpointEvery: 0,
      onProgress: (p) => losses.push(p.loss),
    });
    assert.ok(mean(losses.slice(-20)) < 0.85 * mean(losses.slice(0, 5)), `loss ${mean(losses.slice(0, 5))} → ${mean(losses.slice(-20))}`);

    const exported = exportInferenceModel(DLRM, r.state);
    const session = await ort.InferenceSession.create(exported, SESSION_OPTS);
    assert.deepEqual([...session.inputNames], ['dense', 'sparse']);
    assert.ok(!session.inputNames.includes('emb.0.rows'));
    await session.release();
    const holdout = clicks(99, 4, 250);
    const ones = holdout.reduce((a, b) => a + b.y.reduce((c, v) => c + v, 0), 0) / 1000;
    const ev = await evaluateModel(exported, stream(holdout), { loss: 'bce-logits', inputs: DLRM.inputs });
    assert.equal(ev.count, 1000);
    assert.ok(ev.accuracy > Math.max(ones, 1 - ones) + 0.1, `accuracy ${ev.accuracy}, ones ${ones}`);

    const dir = await mkdtemp(join(tmpdir(), 'host-dlrm-'));
    try {
      await writeModelState(join(dir, 'm.state'), r.state);
      const { state } = await readModelState(join(dir, 'm.state'));
      assertStatesBitIdentical(state, r.state);
      assert.equal(state.params['emb.0.weight']!.length, VOCABS[0]! * DIM);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // The inference graph fed the stored state (batch-then-sample's forward) takes the tables' gathered rows, as the
    // train step does; only the export embeds the tables.
    const inputs = (await ort.InferenceSession.create(buildInference(DLRM), SESSION_OPTS)).inputNames;
    assert.ok(inputs.includes('emb.0.rows') && inputs.includes('emb.1.rows') && !inputs.some((n) => n.startsWith('emb.') && n.endsWith('.weight')));
  });
});
