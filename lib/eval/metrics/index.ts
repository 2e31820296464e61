/**
 * The registry of evaluation metrics: createMetrics builds a MetricSet that checks each batch once and feeds it to
 * every metric. The specs' schema and the default set are policies/evaluation/metric-specs.ts.
 *
 * Adding a metric: its schema entry in policies/evaluation/metric-specs.ts, one file here with its factory, and
 * the factory in `factories` below (the compiler asks for it).
 */
import type { MetricKind, MetricSpec } from '../../../policies/evaluation/metric-specs.js';
import type { LossKind } from '../../onnx/losses.js';
import { createAccuracy } from './accuracy.js';
import { createConfusionMatrix } from './confusion-matrix.js';
import { createF1 } from './f1.js';
import { createLoss } from './loss.js';
import type { Metric, MetricModel, MetricResult } from './metric.js';
import { createPrecision } from './precision.js';
import { createRecall } from './recall.js';
import { createRocAuc } from './roc-auc.js';

export type { ClassifierLoss, Metric, MetricModel, MetricResult } from './metric.js';

type Factories = { [K in MetricKind]: (spec: Extract<MetricSpec, { kind: K }>, model: MetricModel) => Metric };

const factories: Factories = {
  accuracy: createAccuracy,
  loss: createLoss,
  precision: createPrecision,
  recall: createRecall,
  f1: createF1,
  rocAuc: createRocAuc,
  confusionMatrix: createConfusionMatrix,
};

/** The metrics of one evaluation, fed the same batches. */
export interface MetricSet {
  readonly metrics: readonly Metric[];
  /**
   * Adds a batch of `rows` samples: `output` holds exactly rows × width values (width = numClasses for
   * 'softmax-ce', 1 for 'bce-logits'), `labels` one integer class index in [0, numClasses) per row.
   */
  update(output: Float32Array, labels: ArrayLike<number>, rows: number, width: number): void;
  /** Every metric's result, keyed by its name ('accuracy', 'loss', 'f1Macro', …). */
  results(): Record<string, MetricResult>;
}

export interface MetricOptions {
  /** Classes of the model: the width of its 'softmax-ce' output, 2 for 'bce-logits'. */
  numClasses: number;
  /** The ModelDefinition's loss kind; 'mse' (regression) has no classes to score. */
  loss: LossKind;
}

/** Builds the metrics of `specs` (parsed by metricSpecSchema) for a model; specs that give the same name are an error. */
export function createMetrics(specs: readonly MetricSpec[], options: MetricOptions): MetricSet {
  const model = classifier(options);
  // Each factory takes its own spec type; the lookup by kind pairs them, which TypeScript cannot follow.
  const metrics = specs.map((spec) => (factories[spec.kind] as (spec: MetricSpec, model: MetricModel) => Metric)(spec, model));
  const names = new Set<string>();
  for (const { name } of metrics) {
    if (names.has(name)) throw new Error(`metrics: '${name}' is listed twice`);
    names.add(name);
  }
  const width = model.loss === 'bce-logits' ? 1 : model.numClasses;
  return {
    metrics,
    update(output, labels, rows, batchWidth) {
      checkBatch(output, labels, rows, batchWidth, width, model.numClasses);
      for (const metric of metrics) metric.update(output, labels, rows, batchWidth);
    },
    results: () => Object.fromEntries(metrics.map((metric) => [metric.name, metric.result()])),
  };
}

function classifier({ numClasses, loss }: MetricOptions): MetricModel {
  if (loss === 'mse') throw new Error(`metrics: loss 'mse' is a regression; these metrics score classifiers`);
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new Error(`metrics: numClasses ${numClasses} is not an integer >= 2`);
  if (loss === 'bce-logits' && numClasses !== 2) throw new Error(`metrics: a 'bce-logits' model has 2 classes, not ${numClasses}`);
  return { numClasses, loss };
}

function checkBatch(output: Float32Array, labels: ArrayLike<number>, rows: number, width: number, expectedWidth: number, classes: number): void {
  if (width !== expectedWidth) throw new Error(`metrics: output width ${width}; the model's is ${expectedWidth}`);
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`metrics: rows ${rows} is not a count`);
  if (output.length !== rows * width) throw new Error(`metrics: output has ${output.length} values for ${rows} rows × ${width}`);
  if (labels.length !== rows) throw new Error(`metrics: ${labels.length} labels for ${rows} rows`);
  for (let r = 0; r < rows; r++) {
    const label = labels[r]!;
    if (!Number.isInteger(label) || label < 0 || label >= classes) throw new Error(`metrics: label ${label} of row ${r} is not a class in [0, ${classes})`);
  }
}
