/**
 * Per-sample loss and last-layer gradients, computed in closed form from a forward pass, against the textbook
 * formulas and central finite differences of those formulas.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gradientNorms, gradientSpace, lastLayerGradients, logitGradients } from '../../lib/train/downsampling/last-layer-gradients.js';
import { perSampleLoss } from '../../lib/train/downsampling/per-sample-loss.js';
import { checkScoredSamples, type ScoredSamples } from '../../lib/train/downsampling/scored-samples.js';
import { createRng } from '../../lib/rng.js';

type Loss = ScoredSamples['loss'];

function randomSamples(n: number, seed: number, loss: Loss, classes = loss === 'softmax-ce' ? 4 : 1, embeddingSize = 3): ScoredSamples {
  const rng = createRng(seed);
  const output = Float32Array.from({ length: n * classes }, () => 3 * rng.normal());
  const labels = Float64Array.from({ length: n }, () => (loss === 'softmax-ce' ? rng.int(classes) : loss === 'bce-logits' ? rng.int(2) : rng.normal()));
  const embedding = Float32Array.from({ length: n * embeddingSize }, () => rng.normal());
  return { n, output, classes, loss, labels, embedding, embeddingSize };
}

/** The definitions, naively in float64. */
function referenceLoss(loss: Loss, z: number[], y: number): number {
  if (loss === 'softmax-ce') return -Math.log(Math.exp(z[y]!) / z.reduce((s, v) => s + Math.exp(v), 0));
  if (loss === 'bce-logits') {
    const p = 1 / (1 + Math.exp(-z[0]!));
    return -(y * Math.log(p) + (1 - y) * Math.log(1 - p));
  }
  return (z[0]! - y) ** 2;
}

const row = (s: ScoredSamples, i: number) => Array.from(s.output.subarray(i * s.classes, (i + 1) * s.classes));

function centralDifference(f: (x: number[]) => number, x: number[], c: number, h = 1e-5): number {
  const up = [...x];
  const down = [...x];
  up[c]! += h;
  down[c]! -= h;
  return (f(up) - f(down)) / (2 * h);
}

const losses: Loss[] = ['softmax-ce', 'bce-logits', 'mse'];

describe('per-sample loss', () => {
  for (const loss of losses) {
    it(`${loss} equals the definition`, () => {
      const s = randomSamples(40, 1, loss);
      const got = perSampleLoss(s);
      for (let i = 0; i < s.n; i++) {
        const want = referenceLoss(loss, row(s, i), s.labels[i]!);
        assert.ok(Math.abs(got[i]! - want) <= 1e-9 * Math.max(1, want), `sample ${i}: ${got[i]} vs ${want}`);
      }
    });
  }

  it('stays finite and accurate where exp would overflow', () => {
    const s: ScoredSamples = { ...randomSamples(2, 2, 'softmax-ce', 3, 0), output: Float32Array.from([1000, 0, -1000, -1000, 0, 1000]), labels: [2, 2] };
    const got = perSampleLoss(s);
    assert.deepEqual(Array.from(got), [2000, 0]);
    const b: ScoredSamples = { ...randomSamples(2, 2, 'bce-logits', 1, 0), output: Float32Array.from([800, -800]), labels: [0, 0] };
    assert.deepEqual(Array.from(perSampleLoss(b)), [800, 0]);
  });
});

describe('last-layer gradients', () => {
  for (const loss of losses) {
    it(`${loss}: logit gradients and their norms match finite differences of the loss`, () => {
      const s = randomSamples(30, 3, loss);
      const grad = logitGradients(s);
      const norms = gradientNorms(s);
      for (let i = 0; i < s.n; i++) {
        const f = (z: number[]) => referenceLoss(loss, z, s.labels[i]!);
        let squares = 0;
        for (let c = 0; c < s.classes; c++) {
          const want = centralDifference(f, row(s, i), c);
          squares += want ** 2;
          assert.ok(Math.abs(grad[i * s.classes + c]! - want) <= 1e-6, `sample ${i} class ${c}: ${grad[i * s.classes + c]} vs ${want}`);
        }
        assert.ok(Math.abs(norms[i]! - Math.sqrt(squares)) <= 1e-6, `sample ${i} norm`);
      }
    });

    it(`${loss}: lastLayerWithEmbedding is [dl/db, dl/dW row-major] of logits W·e + b`, () => {
      const rng = createRng(4);
      const n = 12;
      const classes = loss === 'softmax-ce' ? 3 : 1;
      const embeddingSize = 4;
      const weights = Array.from({ length: classes * embeddingSize }, () => rng.normal());
      const bias = Array.from({ length: classes }, () => rng.normal());
      const embedding = Float32Array.from({ length: n * embeddingSize }, () => rng.normal());
      const logits = (params: number[], i: number) => Array.from({ length: classes }, (_, c) => {
        let z = params[c]!;
        for (let e = 0; e < embeddingSize; e++) z += params[classes + c * embeddingSize + e]! * embedding[i * embeddingSize + e]!;
        return z;
      });
      const params = [...bias, ...weights];
      const labels = Float64Array.from({ length: n }, () => (loss === 'softmax-ce' ? rng.int(classes) : loss === 'bce-logits' ? rng.int(2) : rng.normal()));
      const output = Float32Array.from({ length: n * classes }, (_, j) => logits(params, Math.floor(j / classes))[j % classes]!);
      const s: ScoredSamples = { n, output, classes, loss, labels, embedding, embeddingSize };
      const { data, dim } = lastLayerGradients(s, 'lastLayerWithEmbedding');
      assert.equal(dim, classes * (1 + embeddingSize));
      for (let i = 0; i < n; i++) {
        for (let p = 0; p < dim; p++) {
          const want = centralDifference((q) => referenceLoss(loss, logits(q, i), labels[i]!), params, p);
          // The closed form starts from float32 logits, the finite difference from float64 ones.
          assert.ok(Math.abs(data[i * dim + p]! - want) <= 1e-5 * Math.max(1, Math.abs(want)), `sample ${i} param ${p}: ${data[i * dim + p]} vs ${want}`);
        }
      }
      const lastLayer = lastLayerGradients(s, 'lastLayer');
      assert.equal(lastLayer.dim, classes);
      for (let i = 0; i < n; i++) assert.deepEqual(Array.from(lastLayer.data.subarray(i * classes, (i + 1) * classes)), Array.from(data.subarray(i * dim, i * dim + classes)));
    });
  }

  it('gradientSpace gives the inner products of the gradient rows without forming them', () => {
    for (const loss of losses) {
      const s = randomSamples(15, 7, loss);
      for (const approximation of ['lastLayer', 'lastLayerWithEmbedding'] as const) {
        const { data, dim } = lastLayerGradients(s, approximation);
        const space = gradientSpace(s, approximation);
        assert.equal(space.size, s.n);
        for (let i = 0; i < s.n; i++) {
          for (let j = 0; j < s.n; j++) {
            let want = 0;
            for (let e = 0; e < dim; e++) want += data[i * dim + e]! * data[j * dim + e]!;
            // The rows are float32, the factored products float64.
            assert.ok(Math.abs(space.dot(i, j) - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${loss} ${approximation} ${i}·${j}: ${space.dot(i, j)} vs ${want}`);
          }
        }
      }
    }
  });

  it('lastLayerWithEmbedding without embeddings is an error', () => {
    assert.throws(() => lastLayerGradients(randomSamples(3, 5, 'softmax-ce', 2, 0), 'lastLayerWithEmbedding'), /embeddingSize is 0/);
    assert.throws(() => gradientSpace(randomSamples(3, 5, 'softmax-ce', 2, 0), 'lastLayerWithEmbedding'), /embeddingSize is 0/);
  });
});

describe('checkScoredSamples', () => {
  it('names the sample with a bad label, a non-finite output or embedding, and mismatched shapes', () => {
    const s = randomSamples(5, 6, 'softmax-ce');
    assert.throws(() => checkScoredSamples({ ...s, labels: [0, 1, 7, 0, 1] }), /label of sample 2 is 7, not a class id in \[0, 4\)/);
    assert.throws(() => checkScoredSamples({ ...s, labels: [0, 1, 1.5, 0, 1] }), /label of sample 2 is 1.5/);
    const output = s.output.slice();
    output[3 * 4 + 1] = NaN;
    assert.throws(() => checkScoredSamples({ ...s, output }), /output of sample 3 is NaN/);
    const embedding = s.embedding.slice();
    embedding[4 * 3] = Infinity;
    assert.throws(() => checkScoredSamples({ ...s, embedding }), /embedding of sample 4 holds Infinity/);
    assert.throws(() => checkScoredSamples({ ...s, n: 6 }), /output holds 20 values for n = 6/);
    assert.throws(() => checkScoredSamples({ ...s, loss: 'mse' }), /loss mse needs classes = 1, got 4/);
    checkScoredSamples(s);
  });
});
