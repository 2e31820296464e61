import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createMetrics, type MetricResult } from '../../lib/eval/metrics/index.js';
import { defaultMetricSpecs, metricSpecListSchema, metricSpecSchema, type MetricSpec } from '../../policies/evaluation/metric-specs.js';
import { createRng } from '../../lib/rng.js';

type Averages = Record<'macro' | 'micro' | 'weighted', number> & { binary?: number };
interface Case {
  name: string;
  loss: 'softmax-ce' | 'bce-logits';
  numClasses: number;
  width: number;
  logits: number[];
  labels: number[];
  expected: {
    accuracy: Record<string, number>;
    loss: number;
    precision: Averages;
    recall: Averages;
    f1: Averages;
    rocAuc: number | null;
    confusionMatrix: number[][];
  };
}

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/metrics/cases.json', import.meta.url), 'utf8')) as { cases: Case[] };

/**
 * Every metric and option the case has a scikit-learn value for, with that value under the metric's name.
 * Tolerance 1e-9 absolute: the counts are exact and the float64 sums differ from numpy's only in rounding order.
 */
function specsAndExpected(c: Case): { specs: MetricSpec[]; expected: Record<string, MetricResult> } {
  const specs: MetricSpec[] = [{ kind: 'loss' }, { kind: 'rocAuc' }, { kind: 'confusionMatrix' }];
  const expected: Record<string, MetricResult> = { loss: c.expected.loss, rocAuc: c.expected.rocAuc, confusionMatrix: c.expected.confusionMatrix };
  for (const [k, value] of Object.entries(c.expected.accuracy)) {
    specs.push({ kind: 'accuracy', topK: Number(k) });
    expected[k === '1' ? 'accuracy' : `top${k}Accuracy`] = value;
  }
  for (const kind of ['precision', 'recall', 'f1'] as const) {
    for (const [average, value] of Object.entries(c.expected[kind])) {
      specs.push({ kind, average: average as keyof Averages });
      expected[kind + average[0]!.toUpperCase() + average.slice(1)] = value;
    }
  }
  return { specs, expected };
}

/** Results after feeding the case in batches of the given row counts (which sum to the case's rows). */
function resultsInBatches(c: Case, specs: MetricSpec[], batchRows: number[]): Record<string, MetricResult> {
  const metrics = createMetrics(specs, { numClasses: c.numClasses, loss: c.loss });
  const logits = Float32Array.from(c.logits);
  let row = 0;
  for (const rows of batchRows) {
    metrics.update(logits.slice(row * c.width, (row + rows) * c.width), c.labels.slice(row, row + rows), rows, c.width);
    row += rows;
  }
  assert.equal(row, c.labels.length);
  return metrics.results();
}

function assertClose(actual: MetricResult, expected: MetricResult, what: string): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    assert.ok(Math.abs(actual - expected) <= 1e-9, `${what}: ${actual} vs scikit-learn ${expected}`);
  } else {
    assert.deepEqual(actual, expected, what);
  }
}

describe('evaluation metrics match scikit-learn', () => {
  for (const c of fixtures.cases) {
    it(c.name, () => {
      const { specs, expected } = specsAndExpected(c);
      const results = resultsInBatches(c, specs, [c.labels.length]);
      assert.deepEqual(Object.keys(results).sort(), Object.keys(expected).sort());
      for (const [name, value] of Object.entries(expected)) assertClose(results[name]!, value, `${c.name}: ${name}`);
    });
  }
});

describe('batching', () => {
  it('gives identical results however the samples are split into batches', () => {
    const rng = createRng(7);
    for (const c of fixtures.cases) {
      const { specs } = specsAndExpected(c);
      const whole = resultsInBatches(c, specs, [c.labels.length]);
      const sizes: number[] = [0];
      for (let left = c.labels.length; left > 0;) {
        const rows = Math.min(left, 1 + rng.int(37));
        sizes.push(rows);
        left -= rows;
      }
      assert.deepEqual(resultsInBatches(c, specs, sizes), whole, c.name);
      assert.deepEqual(resultsInBatches(c, specs, c.labels.map(() => 1)), whole, `${c.name}, one row per batch`);
    }
  });
});

describe('metric results at the edges', () => {
  it('are null before any sample, except the all-zero confusion matrix', () => {
    const specs = metricSpecListSchema.parse([{ kind: 'accuracy' }, { kind: 'loss' }, { kind: 'recall' }, { kind: 'rocAuc' }, { kind: 'confusionMatrix' }]);
    const metrics = createMetrics(specs, { numClasses: 2, loss: 'bce-logits' });
    metrics.update(new Float32Array(0), [], 0, 1);
    assert.deepEqual(metrics.results(), { accuracy: null, loss: null, recallMacro: null, rocAuc: null, confusionMatrix: [[0, 0], [0, 0]] });
  });

  it('keep the loss finite and exact for extreme logits', () => {
    const binary = createMetrics([{ kind: 'loss' }], { numClasses: 2, loss: 'bce-logits' });
    binary.update(Float32Array.from([-1000, 1000]), [1, 1], 2, 1);
    assert.equal(binary.results().loss, 500);
    const softmax = createMetrics([{ kind: 'loss' }], { numClasses: 3, loss: 'softmax-ce' });
    softmax.update(Float32Array.from([1000, 0, -1000]), [1], 1, 3);
    assert.equal(softmax.results().loss, 1000);
  });

  it('break top-k ties toward the lower class index, like argmax', () => {
    const specs = metricSpecListSchema.parse([{ kind: 'accuracy' }, { kind: 'accuracy', topK: 2 }]);
    const metrics = createMetrics(specs, { numClasses: 3, loss: 'softmax-ce' });
    // Row 0: classes 0 and 1 tie above class 2, so label 1 is second; row 1: all tie, so label 2 is third.
    metrics.update(Float32Array.from([1, 1, 0, 5, 5, 5]), [1, 2], 2, 3);
    assert.deepEqual(metrics.results(), { accuracy: 0, top2Accuracy: 0.5 });
  });

  it('make ROC-AUC null when an output is not finite', () => {
    const metrics = createMetrics([{ kind: 'rocAuc' }], { numClasses: 2, loss: 'bce-logits' });
    metrics.update(Float32Array.from([0.5, Number.NaN, -1]), [1, 0, 0], 3, 1);
    assert.equal(metrics.results().rocAuc, null);
  });
});

describe('metric registry', () => {
  it('names the kind field of an unknown metric', () => {
    const parsed = metricSpecListSchema.safeParse([{ kind: 'accuracy' }, { kind: 'perplexity' }]);
    assert.equal(parsed.success, false);
    assert.deepEqual(parsed.error!.issues.map((issue) => issue.path), [[1, 'kind']]);
  });

  it('rejects unknown options and bad values', () => {
    assert.equal(metricSpecSchema.safeParse({ kind: 'loss', average: 'macro' }).success, false);
    assert.equal(metricSpecSchema.safeParse({ kind: 'accuracy', topK: 0 }).success, false);
    assert.equal(metricSpecSchema.safeParse({ kind: 'f1', average: 'samples' }).success, false);
  });

  it('fills option defaults and the default metric set', () => {
    assert.deepEqual(metricSpecSchema.parse({ kind: 'precision' }), { kind: 'precision', average: 'macro' });
    assert.deepEqual(metricSpecListSchema.parse(undefined), defaultMetricSpecs);
    const metrics = createMetrics(defaultMetricSpecs, { numClasses: 4, loss: 'softmax-ce' });
    assert.deepEqual(metrics.metrics.map((m) => m.name), ['accuracy', 'loss', 'f1Macro']);
  });

  it('refuses metrics that do not fit the model, repeated metrics and bad batches', () => {
    assert.throws(() => createMetrics([{ kind: 'f1', average: 'binary' }], { numClasses: 3, loss: 'softmax-ce' }), /binary model/);
    assert.throws(() => createMetrics([{ kind: 'loss' }], { numClasses: 1, loss: 'mse' }), /regression/);
    assert.throws(() => createMetrics([{ kind: 'loss' }], { numClasses: 3, loss: 'bce-logits' }), /2 classes/);
    assert.throws(() => createMetrics([{ kind: 'loss' }, { kind: 'loss' }], { numClasses: 2, loss: 'bce-logits' }), /listed twice/);
    const metrics = createMetrics([{ kind: 'accuracy', topK: 1 }], { numClasses: 3, loss: 'softmax-ce' });
    assert.throws(() => metrics.update(new Float32Array(2), [0], 1, 2), /width 2/);
    assert.throws(() => metrics.update(new Float32Array(3), [3], 1, 3), /label 3/);
    assert.throws(() => metrics.update(new Float32Array(6), [0], 2, 3), /1 labels for 2 rows/);
  });
});
