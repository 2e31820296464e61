/**
 * The registry of evaluation metrics: the spec schema (for the pipeline spec), the default set, and createMetrics,
 * which builds a MetricSet that checks each batch once and feeds it to every metric.
 *
 * Adding a metric: one file exporting its spec schema (a strict object with a literal `kind`) and its factory,
 * then its schema in `metricSpecSchema` and its factory in `factories` below (the compiler asks for the latter).
 */
import { z } from 'zod';
import type { LossKind } from '../../onnx/losses.js';
import { accuracySpec, createAccuracy } from './accuracy.js';
import { confusionMatrixSpec, createConfusionMatrix } from './confusion-matrix.js';
import { createF1, f1Spec } from './f1.js';
import { createLoss, lossSpec } from './loss.js';
import type { Metric, MetricModel, MetricResult } from './metric.js';
import { createPrecision, precisionSpec } from './precision.js';
import { createRecall, recallSpec } from './recall.js';
import { createRocAuc, rocAucSpec } from './roc-auc.js';

export type { ClassifierLoss, Metric, MetricModel, MetricResult } from './metric.js';
export type { Average } from './class-counts.js';

/** One metric to compute, e.g. `{ kind: 'accuracy', topK: 5 }` or `{ kind: 'f1', average: 'weighted' }`. */
export const metricSpecSchema = z.discriminatedUnion('kind', [
  accuracySpec, lossSpec, precisionSpec, recallSpec, f1Spec, rocAucSpec, confusionMatrixSpec,
]);
export type MetricSpec = z.output<typeof metricSpecSchema>;
export type MetricKind = MetricSpec['kind'];

/**
 * Metrics computed when a pipeline names none: accuracy and mean loss (what evaluation always reported) and macro
 * F1, which, unlike accuracy, shows a model that ignores rare classes.
 */
export const defaultMetricSpecs: MetricSpec[] = [{ kind: 'accuracy', topK: 1 }, { kind: 'loss' }, { kind: 'f1', average: 'macro' }];

/** A list of metric specs; absent → defaultMetricSpecs. */
// A fresh copy per parse; structuredClone is not available in the workflow sandbox, which parses specs too.
export const metricSpecListSchema = z.array(metricSpecSchema).default(() => defaultMetricSpecs.map((spec) => ({ ...spec })));

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
