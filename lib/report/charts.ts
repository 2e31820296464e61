import type { TopLevelSpec } from 'vega-lite';
import type { CompositePoint } from '../eval/composite.js';
import type { PipelineReportData } from './data.js';

/**
 * Vega-Lite specs of the report's charts. Every data layer has a `name`, so its marks carry the class
 * `<name>_marks` in the SVG: tests (and curious readers) count them there. Sample time is seconds in the
 * database, shown in UTC so a report reads the same wherever it is opened.
 */

const ACCURACY_AXIS = { title: 'accuracy', format: '.0%' } as const;
const ACCURACY_SCALE = { domain: [0, 1] };
/** One date format per tick granularity, so day ticks all read "Jan 04" rather than mixing weekdays and months. */
const TIME_FORMAT = { year: '%b %d %Y', quarter: '%b %Y', month: '%b %Y', week: '%b %d', date: '%b %d', hours: '%H:%M', minutes: '%H:%M', seconds: '%H:%M:%S', milliseconds: '%S.%L' };
const TIME_AXIS = { title: 'sample time (UTC)', labelAngle: -30, format: TIME_FORMAT };
const COMPOSITE = 'composite (model serving the interval)';
const TRAINED = 'model trained on the interval (seen data)';

const config = { font: 'sans-serif', view: { stroke: '#ccc' }, axis: { labelFontSize: 11, titleFontSize: 12 } } as const;

const utcText = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
const modelLabel = (trigger: number) => `model ${trigger}`;
const intervalLabel = (data: PipelineReportData, intervalId: number) =>
  intervalId >= data.triggers.length && data.triggers.length > 0 ? `${intervalId} (after T${data.triggers.length - 1})` : String(intervalId);

/** Models × intervals accuracy, the composite model's cells outlined. */
export function heatmapSpec(data: PipelineReportData): TopLevelSpec {
  const active = new Map(data.composite.map((p) => [p.intervalId, p.activeModel]));
  const cells = data.matrix.cells.map((c) => ({
    model: modelLabel(c.modelTrigger),
    modelTrigger: c.modelTrigger,
    interval: intervalLabel(data, c.intervalId),
    intervalId: c.intervalId,
    accuracy: c.accuracy,
    heldOut: c.numSamples,
    serving: active.get(c.intervalId) === c.modelTrigger,
  }));
  const x = { field: 'interval', type: 'ordinal', title: 'evaluation interval (trigger’s new data)', sort: { field: 'intervalId' }, axis: { labelAngle: 0 } } as const;
  // No y title: the labels ("model 3": trained at trigger 3) say it, and a long title would pad a short matrix.
  const y = { field: 'model', type: 'ordinal', title: null, sort: { field: 'modelTrigger' } } as const;
  return {
    config,
    title: { text: 'Evaluation matrix: accuracy of each model on each interval', subtitle: 'outlined: the composite model, i.e. the model serving that interval', offset: 12 },
    data: { values: cells },
    width: { step: 64 },
    height: { step: 30 },
    encoding: { x, y },
    layer: [
      {
        name: 'cells',
        mark: 'rect',
        encoding: {
          color: { field: 'accuracy', type: 'quantitative', scale: { ...ACCURACY_SCALE, scheme: 'blues' }, legend: { title: 'accuracy', format: '.0%' } },
          tooltip: [
            { field: 'model' }, { field: 'interval' }, { field: 'accuracy', type: 'quantitative', format: '.1%' },
            { field: 'heldOut', type: 'quantitative', title: 'held-out samples' },
          ],
        },
      },
      {
        name: 'labels',
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          text: { field: 'accuracy', type: 'quantitative', format: '.0%' },
          color: { condition: { test: 'datum.accuracy > 0.6', value: 'white' }, value: 'black' },
        },
      },
      {
        name: 'composite',
        transform: [{ filter: 'datum.serving' }],
        mark: { type: 'rect', filled: false, stroke: '#e6550d', strokeWidth: 3 },
      },
    ],
  };
}

/** The composite model's accuracy over sample time, with the triggers marked where they cut the stream. */
export function overTimeSpec(data: PipelineReportData): TopLevelSpec {
  const start = new Map(data.intervals.map((i) => [i.intervalId, i.minTs * 1000]));
  const point = (series: string, p: CompositePoint, model: number, accuracy: number) => {
    const time = start.get(p.intervalId) ?? 0;
    return { series, time, firstSample: utcText(time), accuracy, model: modelLabel(model), interval: p.intervalId };
  };
  const points = data.composite.flatMap((p) => [
    ...(p.activeAccuracy === null ? [] : [point(COMPOSITE, p, p.activeModel!, p.activeAccuracy)]),
    ...(p.trainedAccuracy === null ? [] : [point(TRAINED, p, p.trainedModel!, p.trainedAccuracy)]),
  ]);
  // Colour and dash share one legend.
  const legend = { title: null, orient: 'bottom' as const, direction: 'vertical' as const, symbolType: 'stroke', symbolStrokeWidth: 2, labelLimit: 400 };
  const color = { field: 'series', type: 'nominal' as const, scale: { domain: [COMPOSITE, TRAINED], range: ['#e6550d', '#9e9e9e'] }, legend };
  const dash = { field: 'series', type: 'nominal' as const, scale: { domain: [COMPOSITE, TRAINED], range: [[1, 0], [4, 3]] }, legend };
  const time = { field: 'time', type: 'temporal', scale: { type: 'utc' }, axis: TIME_AXIS } as const;
  const cut = { field: 'cut', type: 'temporal', scale: { type: 'utc' } } as const;
  const triggers = triggerRows(data);
  return {
    config,
    title: { text: 'Composite model accuracy over sample time', subtitle: 'each point: an interval’s first sample; vertical lines: triggers, at their last sample', offset: 16 },
    width: 640,
    height: 280,
    layer: [
      {
        name: 'trigger_rules',
        data: { values: triggers },
        mark: { type: 'rule', stroke: '#3182bd', strokeDash: [2, 2], strokeWidth: 1.5 },
        encoding: {
          x: cut,
          tooltip: [{ field: 'label', title: 'trigger' }, { field: 'reason' }, { field: 'newSamples', title: 'new samples' }, { field: 'trained' }],
        },
      },
      {
        name: 'trigger_labels',
        data: { values: triggers },
        mark: { type: 'text', align: 'left', dx: 3, dy: -6, fontSize: 10, color: '#3182bd' },
        encoding: { x: cut, y: { value: 0 }, text: { field: 'label' }, tooltip: { field: 'reason' } },
      },
      {
        name: 'composite_line',
        data: { values: points },
        mark: { type: 'line', strokeWidth: 2 },
        encoding: { x: time, y: { field: 'accuracy', type: 'quantitative', scale: ACCURACY_SCALE, axis: ACCURACY_AXIS }, color, strokeDash: dash },
      },
      {
        name: 'composite_points',
        data: { values: points },
        mark: { type: 'point', filled: true, size: 50 },
        encoding: {
          x: time, y: { field: 'accuracy', type: 'quantitative' }, color,
          tooltip: [{ field: 'series' }, { field: 'interval' }, { field: 'model' }, { field: 'accuracy', type: 'quantitative', format: '.1%' }, { field: 'firstSample', title: 'first sample' }],
        },
      },
    ],
  };
}

function triggerRows(data: PipelineReportData) {
  const model = new Map(data.models.map((m) => [m.triggerId, m]));
  return data.triggers.map((t) => ({
    trigger: t.triggerId,
    label: `T${t.triggerId}`,
    cut: t.maxTs * 1000,
    reason: t.reason ?? '(not recorded)',
    newSamples: t.numNew,
    trainedOn: t.numSelected ?? 0,
    seconds: (model.get(t.triggerId)?.trainingMs ?? 0) / 1000,
    trained: model.has(t.triggerId) ? 'yes' : 'no (skipped training)',
  }));
}

/** What each trigger cost: training seconds and the samples trained on. */
export function costSpec(data: PipelineReportData): TopLevelSpec {
  const x = { field: 'label', type: 'ordinal', title: 'trigger', sort: { field: 'trigger' }, axis: { labelAngle: 0 } } as const;
  const tooltip = [{ field: 'label', title: 'trigger' }, { field: 'reason' }, { field: 'seconds', type: 'quantitative', format: '.2f', title: 'training seconds' }, { field: 'trainedOn', title: 'samples trained on' }, { field: 'newSamples', title: 'new samples' }, { field: 'trained' }] as const;
  return {
    config,
    title: 'Cost per trigger',
    data: { values: triggerRows(data) },
    hconcat: [
      { name: 'cost_seconds', width: { step: 28 }, height: 180, mark: { type: 'bar', color: '#756bb1' }, encoding: { x, y: { field: 'seconds', type: 'quantitative', title: 'training seconds' }, tooltip: [...tooltip] } },
      { name: 'cost_samples', width: { step: 28 }, height: 180, mark: { type: 'bar', color: '#31a354' }, encoding: { x, y: { field: 'trainedOn', type: 'quantitative', title: 'samples trained on' }, tooltip: [...tooltip] } },
    ],
  };
}

/** Several pipelines' composite accuracy over sample time, one line each. */
export function compareOverTimeSpec(pipelines: PipelineReportData[]): TopLevelSpec {
  // On the shared evaluation's intervals when the pipelines have one: the same points in time for every pipeline.
  const plans = sharedPlans(pipelines);
  const colors = variantColors(pipelines);
  const points = pipelines.flatMap((data, i) => {
    const plan = plans?.[i];
    const start = plan ? new Map(plan.intervals.map((t) => [t.intervalId, t.startTs * 1000])) : new Map(data.intervals.map((t) => [t.intervalId, t.minTs * 1000]));
    return (plan ? plan.composite : data.composite)
      .filter((p) => p.activeAccuracy !== null)
      .map((p) => ({ pipeline: data.name, variant: colors.variant(data.name), time: start.get(p.intervalId), accuracy: p.activeAccuracy, model: modelLabel(p.activeModel!), interval: p.intervalId }));
  });
  const x = { field: 'time', type: 'temporal', scale: { type: 'utc' }, axis: TIME_AXIS } as const;
  const { color } = colors;
  return {
    config,
    title: 'Composite model accuracy over sample time',
    data: { values: points },
    width: 640,
    height: 280,
    layer: [
      {
        name: 'composite_line', mark: { type: 'line', strokeWidth: 2 },
        // One line per pipeline: a variant's seeds share its colour.
        encoding: { x, y: { field: 'accuracy', type: 'quantitative', scale: ACCURACY_SCALE, axis: ACCURACY_AXIS }, color, detail: { field: 'pipeline' } },
      },
      {
        name: 'composite_points',
        mark: { type: 'point', filled: true, size: 45 },
        encoding: { x, y: { field: 'accuracy', type: 'quantitative' }, color, tooltip: [{ field: 'pipeline' }, { field: 'interval' }, { field: 'model' }, { field: 'accuracy', type: 'quantitative', format: '.1%' }] },
      },
    ],
  };
}

/** An experiment's pipelines are `<experiment>/<variant>/seed-<seed>`: their seeds share the variant's colour. */
const variantOf = (pipeline: string) => pipeline.replace(/\/seed-\d+$/, '');

/**
 * The colour of a pipeline in every comparison chart: its variant's, with an experiment's name, shared by every
 * variant, as the legend's title instead of repeated in each label.
 */
function variantColors(pipelines: PipelineReportData[]) {
  const folder = sharedFolder(pipelines.map((data) => variantOf(data.name)));
  return {
    variant: (pipeline: string) => variantOf(pipeline).slice(folder.length),
    color: { field: 'variant', type: 'nominal', legend: { title: folder ? folder.slice(0, -1) : null, orient: 'bottom', columns: 4, labelLimit: 240 } } as const,
  };
}

/** The first folder of the names when all of them share it (an experiment's name), else ''. */
function sharedFolder(names: string[]): string {
  const folder = /^[^/]+\//.exec(names[0] ?? '')?.[0];
  return folder && names.every((n) => n.startsWith(folder) && n.length > folder.length) ? folder : '';
}

/** Each pipeline's first evaluation in sample time (an experiment's shared one), when every pipeline has one. */
function sharedPlans(pipelines: PipelineReportData[]) {
  const plans = pipelines.map((data) => data.plans.find((p) => p.name === `${data.name}/after-pipeline-0`));
  return plans.every((p) => p !== undefined) ? plans : null;
}

/** The accuracy that compares pipelines: their shared evaluation's when they have one, else their trigger intervals'. */
function comparedAccuracy(pipelines: PipelineReportData[]): { accuracy: (number | null)[]; inSampleTime: boolean } {
  const plans = sharedPlans(pipelines);
  return plans
    ? { accuracy: plans.map((p) => p!.meanCompositeAccuracy), inSampleTime: true }
    : { accuracy: pipelines.map((data) => data.figures.meanCompositeAccuracy), inSampleTime: false };
}

/**
 * Each pipeline's mean composite accuracy against the two costs of retraining, triggers and training seconds, side
 * by side on one accuracy axis: one point per pipeline, coloured by variant. The accuracy is the pipelines' first
 * evaluation in sample time (an experiment's shared evaluation) when every pipeline has one, since it scores
 * pipelines whose triggers fire at different times on the same intervals; otherwise their own trigger intervals'.
 */
export function accuracyVsCostSpec(pipelines: PipelineReportData[]): TopLevelSpec {
  const { accuracy, inSampleTime } = comparedAccuracy(pipelines);
  const { variant, color } = variantColors(pipelines);
  const points = pipelines.map((data, i) => ({
    pipeline: data.name,
    variant: variant(data.name),
    accuracy: accuracy[i],
    triggers: data.figures.cost.triggers,
    seconds: data.figures.cost.trainingSeconds,
  }));
  const y = { field: 'accuracy', type: 'quantitative', title: 'mean composite accuracy', axis: { format: '.0%' }, scale: { zero: false } } as const;
  const tooltip = [
    { field: 'pipeline' }, { field: 'accuracy', type: 'quantitative', format: '.1%' }, { field: 'triggers' },
    { field: 'seconds', type: 'quantitative', format: '.2f', title: 'training seconds' },
  ] as const;
  const triggersX = { field: 'triggers', type: 'quantitative', title: 'triggers', scale: { zero: true }, axis: { tickMinStep: 1 } } as const;
  const secondsX = { field: 'seconds', type: 'quantitative', title: 'training seconds', scale: { zero: true } } as const;
  const panel = (name: string, x: typeof triggersX | typeof secondsX) => ({
    name, width: 320, height: 260, mark: { type: 'point', filled: true, size: 80, opacity: 0.8 } as const,
    encoding: { x, y, color, tooltip: [...tooltip] },
  });
  return {
    config,
    title: {
      text: 'Accuracy vs triggers and vs training seconds',
      // Two short lines: Vega's headless text measure overestimates one long line and widens the chart with it.
      subtitle: [`accuracy over ${inSampleTime ? 'the shared evaluation in sample time' : 'each pipeline’s trigger intervals'}`, 'one point per pipeline; a variant’s seeds share its colour'],
      offset: 12,
    },
    data: { values: points },
    hconcat: [panel('accuracy_triggers', triggersX), panel('accuracy_seconds', secondsX)],
    resolve: { scale: { y: 'shared', color: 'shared' } },
  };
}
