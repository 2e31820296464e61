/**
 * The text classifier as pipelines use it: declared in the spec, built by the zoo for a text dataset's token ids,
 * trained by trainModel and evaluated by evaluateModel from batches with no float features (features = 0).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Batch } from '../../lib/data/batch.js';
import { parseDatasetConfig } from '../../lib/data/dataset-config.js';
import { hashToken, tokenIds } from '../../lib/data/formats/text.js';
import { evaluateModel } from '../../lib/eval/evaluate.js';
import { exportInferenceModel } from '../../lib/models/export.js';
import { batchInputs } from '../../lib/onnx/batch-feeds.js';
import { modelParameters } from '../../lib/onnx/models/build.js';
import { createModel, ModelSpecError } from '../../lib/onnx/models/zoo.js';
import type { OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { createRng } from '../../lib/rng.js';
import { initModelState } from '../../lib/train/model-state.js';
import { trainModel } from '../../lib/train/trainer.js';
import { parseSpec, type PipelineSpecInput } from '../../policies/spec.js';

const ADAM: OptimizerConfig = { name: 'adam', lr: 0.02, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
const MAX_TOKENS = 8;
const format = parseDatasetConfig({ name: 'news', root: '/data/news', format: { kind: 'text', maxTokens: MAX_TOKENS } }).format;
const base: Omit<PipelineSpecInput, 'model'> = {
  dataset: { name: 'news' }, training: { optimizer: { name: 'adam', lr: 0.001 } }, trigger: { kind: 'dataAmount', every: 1000 },
};
const MARKERS = [['goal', 'match', 'league'], ['stock', 'market', 'shares'], ['rain', 'storm', 'sunny']];
const FILLER = Array.from({ length: 200 }, (_, i) => `w${i}`);

/** Sentences of filler words with one or two marker words of their class, tokenized as the text format does. */
function sentences(seed: number, count: number, size = 32): Batch[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => {
    const categorical = new Int32Array(size * MAX_TOKENS);
    const y = Int32Array.from({ length: size }, (_, s) => {
      const c = rng.int(3);
      const words = Array.from({ length: 2 + rng.int(4) }, () => FILLER[rng.int(FILLER.length)]!);
      for (let m = 1 + rng.int(2); m > 0; m--) words.splice(rng.int(words.length + 1), 0, MARKERS[c]![rng.int(3)]!);
      tokenIds(format.kind === 'text' ? format : assert.fail(), words.join(' '), categorical, s * MAX_TOKENS);
      return c;
    });
    return { x: new Float32Array(0), y, w: new Float32Array(size).fill(1), size, features: 0, categorical, categoricalCount: MAX_TOKENS };
  });
}

async function* stream<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

describe('textClassifier', () => {
  const spec = parseSpec({ ...base, model: { architecture: 'textClassifier', numClasses: 3, vocabSize: 4096, embeddingDim: 16 } }).model;

  it('the spec fills defaults and refuses a table beyond 2^28 values, naming the field', () => {
    assert.deepEqual(parseSpec({ ...base, model: { architecture: 'textClassifier', numClasses: 4 } }).model, {
      architecture: 'textClassifier', numClasses: 4, vocabSize: 32768, embeddingDim: 32, hidden: [],
    });
    assert.throws(() => parseSpec({ ...base, model: { architecture: 'textClassifier', numClasses: 4, vocabSize: 1 << 24 } }),
      /model\.vocabSize: vocabSize 16777216 × embeddingDim 32 exceeds 2\^28 table values/);
  });

  it('holds a table over 1M values in the training worker: it trains from raw ids and its export evaluates them', async () => {
    const big = parseSpec({ ...base, model: { architecture: 'textClassifier', numClasses: 3, vocabSize: 1 << 17, embeddingDim: 16 } }).model;
    const def = createModel(big, 0, MAX_TOKENS);
    assert.deepEqual(modelParameters(def).hostTables.map((h) => h.param.name), ['embedding.weight']);
    const losses: number[] = [];
    const r = await trainModel({ model: def, optimizer: ADAM, checkpointEvery: 0, state: initModelState(def, ADAM, 1), batches: stream(sentences(1, 150)), onProgress: (p) => losses.push(p.loss) });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(losses.slice(-10)) < 0.3 * mean(losses.slice(0, 5)), `loss ${mean(losses.slice(0, 5))} → ${mean(losses.slice(-10))}`);
    const ev = await evaluateModel(exportInferenceModel(def, r.state), stream(sentences(99, 10)), { inputs: def.inputs });
    assert.ok(ev.accuracy > 0.9, `accuracy ${ev.accuracy}`);
  });

  it('the zoo builds it for token ids only, and refuses datasets without them or other models on text, naming the field', () => {
    const def = createModel(spec, 0, MAX_TOKENS);
    assert.deepEqual(def.inputs, [{ name: 'tokens', dtype: 'int64', shape: ['B', MAX_TOKENS] }]);
    assert.deepEqual(batchInputs(def), { ids: { name: 'tokens', categorical: MAX_TOKENS } });
    const refused = (f: () => unknown, message: RegExp) => assert.throws(f, (e: Error) => e instanceof ModelSpecError && message.test(e.message));
    refused(() => createModel(spec, 784, 0), /model\.architecture: textClassifier needs a text dataset's token ids, but the dataset's samples have 784 float features and 0/);
    refused(() => createModel(spec, 13, 26), /textClassifier needs a text dataset's token ids/);
    const mlp = parseSpec({ ...base, model: { architecture: 'mlp', numClasses: 3 } }).model;
    refused(() => createModel(mlp, 0, MAX_TOKENS), /model\.architecture: mlp needs float features, but the dataset's samples have none/);
  });

  it('trains from batches of 0 features and hashed ids (in-graph id mod vocab); the exported model evaluates them', async () => {
    const def = createModel(spec, 0, MAX_TOKENS);
    assert.ok(sentences(1, 1)[0]!.categorical!.some((id) => id >= 4096), 'ids are raw 31-bit hashes');
    const losses: number[] = [];
    const r = await trainModel({ model: def, optimizer: ADAM, checkpointEvery: 0, state: initModelState(def, ADAM, 1), batches: stream(sentences(1, 150)), onProgress: (p) => losses.push(p.loss) });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(losses.slice(-10)) < 0.3 * mean(losses.slice(0, 5)), `loss ${mean(losses.slice(0, 5))} → ${mean(losses.slice(-10))}`);
    const ev = await evaluateModel(exportInferenceModel(def, r.state), stream(sentences(99, 10)), { inputs: def.inputs });
    assert.equal(ev.count, 320);
    assert.ok(ev.accuracy > 0.9, `accuracy ${ev.accuracy}`);
    // Padding stays padding: an all-padding sentence and the hash of "goal" both score without error.
    const odd: Batch = { x: new Float32Array(0), y: Int32Array.of(0, 0), w: Float32Array.of(1, 1), size: 2, features: 0, categoricalCount: MAX_TOKENS,
      categorical: Int32Array.from([hashToken('goal'), ...new Array<number>(2 * MAX_TOKENS - 1).fill(-1)]) };
    assert.equal((await evaluateModel(exportInferenceModel(def, r.state), stream([odd]), { inputs: def.inputs })).count, 2);
    // A batch with features for a model without a float input is refused, naming both.
    await assert.rejects(
      trainModel({ model: def, optimizer: ADAM, checkpointEvery: 0, state: initModelState(def, ADAM, 1), batches: stream([{ ...sentences(2, 1)[0]!, x: new Float32Array(32), features: 1 }]) }),
      /step 1: 1 features, but the model has no float32 input/,
    );
  });
});
