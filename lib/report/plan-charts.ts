import type { TopLevelSpec } from 'vega-lite';
import type { PlanReport } from './plan-data.js';

/** The day an interval starts, in UTC, or its minute when the plan's intervals do not all start at midnight. */
function intervalStart(plan: PlanReport, startTs: number): string {
  const iso = new Date(startTs * 1000).toISOString();
  return plan.intervals.every((i) => i.startTs % 86_400 === 0) ? iso.slice(0, 10) : iso.slice(0, 16).replace('T', ' ');
}

/** What a plan's strategy is, in a few words, for titles and tables. */
export function describeStrategy(plan: PlanReport): string {
  const s = plan.strategy;
  const what = s.kind === 'slicing' ? `slices of ${s.every}`
    : s.kind === 'periodic' ? `windows around points ${s.every} apart (${s.before ?? '0'} before, ${s.after ?? '0'} after)`
    : s.kind === 'static' ? `${s.intervals.length} fixed intervals`
    : s.kind === 'offset' ? `offsets ${s.offsets.join(', ')} around each training interval`
    : 'between triggers';
  return `${what}; ${plan.models} models; ${plan.heldOut ? `held-out samples of ${plan.dataset}` : `all samples of ${plan.dataset}`}`;
}

/** Models × sample-time intervals of one plan, the composite model's cells outlined (marks named like heatmapSpec's). */
export function planHeatmapSpec(plan: PlanReport): TopLevelSpec {
  const serving = new Map(plan.composite.map((p) => [p.intervalId, p.activeModel]));
  const starts = new Map(plan.intervals.map((i) => [i.intervalId, i.startTs]));
  const cells = plan.cells.map((c) => ({
    model: `model ${c.modelTrigger}`, modelTrigger: c.modelTrigger,
    interval: `${c.intervalId}: ${intervalStart(plan, starts.get(c.intervalId) ?? 0)}`, intervalId: c.intervalId,
    accuracy: c.accuracy, samples: c.numSamples, serving: serving.get(c.intervalId) === c.modelTrigger,
  }));
  return {
    config: { font: 'sans-serif', view: { stroke: '#ccc' }, axis: { labelFontSize: 11, titleFontSize: 12 } },
    title: { text: `Evaluation in sample time: ${plan.name}`, subtitle: `${describeStrategy(plan)}; outlined: the model serving the interval`, offset: 12 },
    data: { values: cells },
    width: { step: 40 },
    height: { step: 26 },
    encoding: {
      x: { field: 'interval', type: 'ordinal', title: 'interval (its start, UTC)', sort: { field: 'intervalId' }, axis: { labelAngle: -45 } },
      y: { field: 'model', type: 'ordinal', title: null, sort: { field: 'modelTrigger' } },
    },
    layer: [
      {
        name: 'plan_cells',
        mark: 'rect',
        encoding: {
          color: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1], scheme: 'blues' }, legend: { title: 'accuracy', format: '.0%' } },
          tooltip: [{ field: 'model' }, { field: 'interval' }, { field: 'accuracy', type: 'quantitative', format: '.1%' }, { field: 'samples', type: 'quantitative' }],
        },
      },
      { name: 'plan_composite', transform: [{ filter: 'datum.serving' }], mark: { type: 'rect', filled: false, stroke: '#e6550d', strokeWidth: 3 } },
    ],
  };
}
