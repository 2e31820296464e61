/**
 * Embedding layers, DLRM's dot interaction and the two embedding models on real ORT sessions. Layer probes build
 * loss = Σ r·out on a training tape (dOut = r, int64 ids fed as graph inputs) and compare the tape's gradients
 * with central finite differences and with JS references; the models train through buildTrainStep with state fed
 * back output → input, as the trainer does, and the exported inference graphs are checked on holdout sets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { dotInteraction } from '../../lib/onnx/layers/dot-interaction.js';
import { embedding, embeddingBag } from '../../lib/onnx/layers/embedding.js';
import { buildInference, buildTrainStep, modelParameters } from '../../lib/onnx/models/build.js';
import { dlrmModel } from '../../lib/onnx/models/dlrm.js';
import type { ModelDefinition } from '../../lib/onnx/models/model.js';
import { textClassifierModel } from '../../lib/onnx/models/text.js';
import { optimizerStateNames, type OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { initialValue, paramSize } from '../../lib/onnx/params.js';
import { tableRows } from '../../lib/onnx/session-host-tables.js';
import { WasmTable } from '../../lib/onnx/wasm-table.js';
import { createRng, type Rng } from '../../lib/rng.js';
import { hostTableRuns, hostTensorNames } from '../../lib/train/host-tables.js';
import { checkAgainstDifferences, Harness, SESSION_OPTS } from '../helpers/gradcheck.js';

const ADAM: OptimizerConfig = { name: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

/** Gradient-check tolerance for these probes, relative to each tensor's largest gradient entry. */
const TOL = 1e-3;

describe('embedding layers', () => {
  const vocab = 6;
  const dim = 3;

  it('embedding: rows of the table; its gradient adds repeated ids and matches differences; unused rows get 0', async () => {
    const ids = [1, 3, 3, 5, 0, 1, 1, 3]; // [2, 4]: rows 2 and 4 unused, 1 and 3 repeated
    const h = await Harness.create({
      ints: { ids: { shape: [2, 4], values: ids } },
      forward: (t, { ids: x }) => embedding(t, 'emb', x!, { vocab, dim }),
    });
    await checkAgainstDifferences(h, TOL);
    const base = await h.run();
    const table = h.feeds['emb.weight']!;
    const r = h.feeds.r!;
    const expectOut = ids.flatMap((id) => Array.from(table.subarray(id * dim, (id + 1) * dim)));
    assertClose(base.out!, expectOut, 0, 'out');
    const expectGrad = new Float32Array(vocab * dim);
    ids.forEach((id, p) => { for (let k = 0; k < dim; k++) expectGrad[id * dim + k]! += r[p * dim + k]!; });
    assertClose(base['emb.weight__grad']!, expectGrad, 1e-6, 'grad');
    for (const row of [2, 4]) assert.deepEqual(Array.from(base['emb.weight__grad']!.subarray(row * dim, (row + 1) * dim)), [0, 0, 0]);
  });

  for (const mode of ['sum', 'mean'] as const) {
    it(`embeddingBag (${mode}): padding contributes nothing; an all-padding bag is 0; table gradient matches differences`, async () => {
      // [4, 5]; id 0 never occurs, so row 0 (where padding is mapped) must get no gradient; row 4 is unused too.
      const ids = [1, 2, -1, -1, -1, 3, 3, 5, 1, -1, -1, -1, -1, -1, -1, 2, 5, 5, 5, 5];
      const h = await Harness.create({
        ints: { ids: { shape: [4, 5], values: ids } },
        forward: (t, { ids: x }) => embeddingBag(t, 'bag', x!, { vocab, dim, mode }),
      });
      await checkAgainstDifferences(h, TOL);
      const base = await h.run();
      const table = h.feeds['bag.weight']!;
      const r = h.feeds.r!;
      const expectOut = new Float32Array(4 * dim);
      const expectGrad = new Float32Array(vocab * dim);
      for (let b = 0; b < 4; b++) {
        const bag = ids.slice(b * 5, (b + 1) * 5).filter((id) => id >= 0);
        const w = mode === 'mean' ? 1 / Math.max(bag.length, 1) : 1;
        for (const id of bag) {
          for (let k = 0; k < dim; k++) {
            expectOut[b * dim + k]! += w * table[id * dim + k]!;
            expectGrad[id * dim + k]! += w * r[b * dim + k]!;
          }
        }
      }
      assertClose(base.out!, expectOut, 1e-6, 'out');
      assert.deepEqual(Array.from(base.out!.subarray(2 * dim, 3 * dim)), [0, 0, 0]);
      assertClose(base['bag.weight__grad']!, expectGrad, 1e-6, 'grad');
      for (const row of [0, 4]) assert.deepEqual(Array.from(base['bag.weight__grad']!.subarray(row * dim, (row + 1) * dim)), [0, 0, 0]);
    });
  }
});

describe('dot interaction', () => {
  it('outputs [dense, lower-triangle dots] in DLRM order; dense and embedding gradients match differences', async () => {
    const [b, f, k] = [3, 3, 4];
    const h = await Harness.create({
      inputs: { dense: [b, k], embs: [b, f, k] },
      forward: (t, { dense, embs }) => dotInteraction(t, dense!, embs!),
    });
    await checkAgainstDifferences(h, TOL);
    const base = await h.run();
    const pairs = ((f + 1) * f) / 2;
    assert.equal(base.out!.length, b * (k + pairs));
    const { dense, embs } = h.feeds as { dense: Float32Array; embs: Float32Array };
    const expected: number[] = [];
    for (let s = 0; s < b; s++) {
      const rows = [dense.subarray(s * k, (s + 1) * k), ...Array.from({ length: f }, (_, e) => embs.subarray((s * f + e) * k, (s * f + e + 1) * k))];
      expected.push(...rows[0]!);
      for (let i = 1; i <= f; i++) for (let j = 0; j < i; j++) expected.push(rows[i]!.reduce((a, x, c) => a + x * rows[j]![c]!, 0));
    }
    assertClose(base.out!, expected, 1e-5, 'out');
  });

  it('chains with embeddings: the tables get the gradient through the interaction', async () => {
    const h = await Harness.create({
      inputs: { dense: [2, 3] }, ints: { ids: { shape: [2, 2], values: [0, 2, 3, 3] } },
      forward: (t, { dense, ids }) => dotInteraction(t, dense!, embedding(t, 'emb', ids!, { vocab: 4, dim: 3 })),
    });
    await checkAgainstDifferences(h, TOL);
    const base = await h.run();
    assert.deepEqual(Array.from(base['emb.weight__grad']!.subarray(3, 6)), [0, 0, 0]); // row 1 unused
  });
});

interface Batch { feeds: Record<string, ort.Tensor>; labels: number[] }

/** Train steps on fresh batches with Adam; parameters and optimizer state go round as ORT tensors. */
/**
 * Trains through buildTrainStep as the trainer does: state fed back output → input; host tables (DLRM's) gathered
 * before each step and updated after it in their WasmTables, as the session worker does.
 */
async function train(def: ModelDefinition, data: (rng: Rng, n: number) => Batch, steps: number, batch: number) {
  const { params, hostTables } = modelParameters(def);
  const init = createRng(1);
  const values: Record<string, Float32Array> = {};
  for (const s of params) {
    values[s.name] = initialValue(s, init);
    for (const n of optimizerStateNames(s.name, ADAM)) values[n] = new Float32Array(paramSize(s));
  }
  const runs = hostTableRuns(hostTables, ADAM);
  const held = new Map(runs.map((h) => [h.table, new WasmTable(values[h.table]!, h.states.map((n) => values[n]!), h.dim, h.rule, h.update)]));
  const hostNames = hostTensorNames(hostTables, ADAM);
  const state: Record<string, ort.Tensor> = {};
  for (const s of params) {
    for (const n of [s.name, ...optimizerStateNames(s.name, ADAM)]) if (!hostNames.has(n)) state[n] = new ort.Tensor('float32', values[n]!, s.shape);
  }
  const session = await ort.InferenceSession.create(buildTrainStep(def, ADAM), SESSION_OPTS);
  const rng = createRng(7);
  const losses: number[] = [];
  for (let step = 1; step <= steps; step++) {
    const { feeds, labels } = data(rng, batch);
    const y = def.loss === 'softmax-ce'
      ? new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [batch])
      : new ort.Tensor('float32', Float32Array.from(labels), [batch]);
    const rows = runs.map((h) => {
      const ids = feeds[h.ids]!;
      const r = tableRows(ids.data as BigInt64Array, ids.dims[1]!, h.source, h.vocab, h.table);
      feeds[h.rows] = new ort.Tensor('float32', held.get(h.table)!.gather(r), [batch, h.source.columns.length, h.dim]);
      return r;
    });
    const out = await session.run({
      ...state, ...feeds, y,
      w: new ort.Tensor('float32', new Float32Array(batch).fill(1), [batch]),
      lr: new ort.Tensor('float32', [ADAM.lr], []),
      step: new ort.Tensor('float32', [step], []),
      rng_seed: new ort.Tensor('float32', [step], []),
    });
    losses.push((out.loss!.data as Float32Array)[0]!);
    for (const name of Object.keys(state)) state[name] = out[`${name}__new`]!;
    runs.forEach((h, i) => held.get(h.table)!.step(rows[i]!, out[h.grad]!.data as Float32Array, Math.fround(ADAM.lr), step));
  }
  const weights = Object.fromEntries(params.map((s) => [s.name, held.get(s.name)?.array(0) ?? state[s.name]!.data as Float32Array]));
  return { losses, weights, params };
}

describe('DLRM', () => {
  const vocabSizes = Array.from({ length: 26 }, (_, f) => 5 + (f % 4) * 5); // 5..20 rows per feature
  const def = dlrmModel({ denseFeatures: 13, sparseFeatures: 26, vocabSizes, embeddingDim: 8, bottom: [16, 8], top: [16] });
  // Synthetic clicks: the logit is a linear function of the dense features plus per-id scores of 4 sparse features.
  const teacher = (() => {
    const rng = createRng(2024);
    return { w: Array.from({ length: 13 }, () => rng.normal() * 0.5), score: vocabSizes.map((v) => Array.from({ length: v }, () => rng.normal() * 1.5)) };
  })();
  const informative = [0, 5, 11, 20];
  const clicks = (rng: Rng, n: number): Batch => {
    const dense = Float32Array.from({ length: n * 13 }, () => rng.normal());
    const sparse = Array.from({ length: n * 26 }, (_, i) => rng.int(vocabSizes[i % 26]!));
    const labels = Array.from({ length: n }, (_, s) => {
      let z = 0;
      for (let j = 0; j < 13; j++) z += teacher.w[j]! * dense[s * 13 + j]!;
      for (const f of informative) z += teacher.score[f]![sparse[s * 26 + f]!]!;
      return rng.next() < 1 / (1 + Math.exp(-2 * z)) ? 1 : 0;
    });
    return {
      labels,
      feeds: {
        dense: new ort.Tensor('float32', dense, [n, 13]),
        sparse: new ort.Tensor('int64', BigInt64Array.from(sparse, BigInt), [n, 26]),
      },
    };
  };

  it('declares its tables and MLPs; rejects inconsistent configs and oversized tables', async () => {
    const names = modelParameters(def).params.map((s) => s.name);
    assert.deepEqual(names.slice(0, 4), ['bottom.fc1.weight', 'bottom.fc1.bias', 'bottom.fc2.weight', 'bottom.fc2.bias']);
    assert.deepEqual(names.slice(4, 30), vocabSizes.map((_, f) => `emb.${f}.weight`));
    assert.deepEqual(names.slice(30), ['top.fc1.weight', 'top.fc1.bias', 'top.fc2.weight', 'top.fc2.bias']);
    assert.deepEqual(modelParameters(def).params[4]!.shape, [5, 8]);
    // Every table is held in the worker; the inference graph fed the stored state (batch-then-sample's forward) takes
    // their gathered rows, as the train step does.
    const inference = await ort.InferenceSession.create(buildInference(def), SESSION_OPTS);
    const rows = vocabSizes.map((_, f) => `emb.${f}.rows`);
    assert.deepEqual([...inference.inputNames].filter((n) => !names.includes(n)).sort(), ['dense', 'sparse', ...rows].sort());
    assert.ok(vocabSizes.every((_, f) => !inference.inputNames.includes(`emb.${f}.weight`)));
    assert.deepEqual(modelParameters(def).hostTables.map((h) => h.rows), vocabSizes.map((_, f) => `emb.${f}.rows`));
    assert.deepEqual(modelParameters(def).hostTables.map((h) => h.update), vocabSizes.map(() => 'dense'));
    assert.throws(() => dlrmModel({ denseFeatures: 13, sparseFeatures: 2, vocabSizes: [4], embeddingDim: 8, bottom: [8], top: [] }), /vocabSizes/);
    assert.throws(() => dlrmModel({ denseFeatures: 13, sparseFeatures: 1, vocabSizes: [4], embeddingDim: 8, bottom: [16], top: [] }), /embeddingDim/);
    assert.throws(() => dlrmModel({ denseFeatures: 13, sparseFeatures: 1, vocabSizes: [2 ** 24 + 1], embeddingDim: 16, bottom: [16], top: [] }), /at most 268435456/);
  });

  it('learns a synthetic click task with Adam; the exported model ranks a holdout set', async () => {
    const { losses, weights } = await train(def, clicks, 250, 128);
    const start = mean(losses.slice(0, 5));
    const end = mean(losses.slice(-20));
    assert.ok(end < 0.5 * start, `loss ${start.toFixed(3)} → ${end.toFixed(3)}`);

    const session = await ort.InferenceSession.create(buildInference(def, weights), SESSION_OPTS);
    assert.deepEqual([...session.inputNames], ['dense', 'sparse']);
    const n = 1000;
    const holdout = clicks(createRng(99), n);
    const out = await session.run(holdout.feeds);
    assert.deepEqual(out.output!.dims, [n, 1]);
    assert.deepEqual(out.embedding!.dims, [n, 8 + (27 * 26) / 2]);
    const logits = out.output!.data as Float32Array;
    const accuracy = holdout.labels.filter((y, i) => (logits[i]! > 0 ? 1 : 0) === y).length / n;
    assert.ok(accuracy > 0.75, `holdout accuracy ${accuracy}`);
  });
});

describe('text classifier', () => {
  const [vocab, maxTokens, classes] = [300, 12, 3];
  const def = textClassifierModel({ vocab, dim: 16, maxTokens, numClasses: classes, hidden: [32] });
  // Tokens 0..14 are markers (5 per class); a document holds 1–2 markers of its class among 3–10 background tokens.
  const docs = (rng: Rng, n: number): Batch => {
    const tokens = new Array<number>(n * maxTokens).fill(-1);
    const labels = Array.from({ length: n }, (_, s) => {
      const c = rng.int(classes);
      const doc = Array.from({ length: 3 + rng.int(8) }, () => 15 + rng.int(vocab - 15));
      for (let m = 1 + rng.int(2); m > 0; m--) doc.splice(rng.int(doc.length + 1), 0, c * 5 + rng.int(5));
      doc.forEach((tok, i) => { tokens[s * maxTokens + i] = tok; });
      return c;
    });
    return { labels, feeds: { tokens: new ort.Tensor('int64', BigInt64Array.from(tokens, BigInt), [n, maxTokens]) } };
  };

  it('learns which hashed tokens decide the class; the exported model classifies a holdout set', async () => {
    assert.deepEqual(modelParameters(def).params.map((s) => s.name), ['embedding.weight', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    const { losses, weights } = await train(def, docs, 300, 64);
    const start = mean(losses.slice(0, 5));
    const end = mean(losses.slice(-20));
    assert.ok(end < 0.3 * start, `loss ${start.toFixed(3)} → ${end.toFixed(3)}`);

    const session = await ort.InferenceSession.create(buildInference(def, weights), SESSION_OPTS);
    const n = 600;
    const holdout = docs(createRng(99), n);
    const out = await session.run(holdout.feeds);
    assert.deepEqual(out.embedding!.dims, [n, 16]);
    const logits = out.output!.data as Float32Array;
    let correct = 0;
    holdout.labels.forEach((y, i) => {
      const row = Array.from(logits.subarray(i * classes, (i + 1) * classes));
      if (row.indexOf(Math.max(...row)) === y) correct++;
    });
    assert.ok(correct / n > 0.9, `holdout accuracy ${correct / n}`);
    // An all-padding document is served (zero bag vector), not rejected.
    const empty = await session.run({ tokens: new ort.Tensor('int64', new BigInt64Array(maxTokens).fill(-1n), [1, maxTokens]) });
    assert.deepEqual(Array.from(empty.embedding!.data as Float32Array), new Array(16).fill(0));
  });
});
