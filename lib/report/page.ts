import type { PipelineFigures } from '../eval/composite.js';
import type { PipelineReportData } from './data.js';
import { describeStrategy } from './plan-charts.js';

/** A rendered chart on a page: its inline SVG and the file name of its PNG copy next to the page. */
export interface RenderedChart {
  id: string;
  svg: string;
  png: string;
}

/** Escapes text for HTML content and attribute values; every name and reason from the database goes through it. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const pct = (v: number | null) => (v === null ? '–' : `${(100 * v).toFixed(1)}%`);
const points = (v: number | null) => (v === null ? '–' : `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)} pp`);
const utc = (seconds: number) => `${new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ')}`;

const STYLE = `
  body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; padding: 0 16px; color: #222; }
  h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 32px; }
  .meta { color: #666; margin-top: 0; }
  table { border-collapse: collapse; margin: 8px 0; }
  th, td { padding: 4px 10px; border-bottom: 1px solid #e3e3e3; text-align: right; vertical-align: top; }
  th { background: #f6f6f6; font-weight: 600; }
  td.text, th.text { text-align: left; }
  #figures td:first-child { white-space: nowrap; }
  figure { margin: 16px 0; } figure svg { max-width: 100%; height: auto; }
  figcaption { font-size: 12px; color: #666; }
  .notes { font-size: 12.5px; color: #555; max-width: 860px; }
`;

/** The definitions behind the figures, so a reader need not look them up. */
const NOTES = `
  <h2>How the figures are computed</h2>
  <ul class="notes">
    <li><b>Composite model</b>: for each interval, the model serving it, i.e. the latest model trained on data before
      the interval (none for the first interval). Interval <i>i</i> is trigger <i>i</i>’s new data; the last interval
      is the data after the last trigger.</li>
    <li><b>Mean composite accuracy</b>: the composite model’s accuracy on each interval’s held-out samples, averaged
      over the intervals that have one, weighted by the interval’s held-out sample count (so by data volume;
      Modyn weights by interval length in time).</li>
    <li><b>Backward transfer</b> (GEM): mean over earlier tasks of the final model’s accuracy minus the task’s own
      model’s accuracy; negative means forgetting. A task is an interval whose trigger trained a model.</li>
    <li><b>Forward transfer</b> (GEM): mean over tasks after the first of the previous model’s accuracy on the task
      minus chance accuracy (1 / classes of the model spec); – when the spec does not give the classes.</li>
    <li><b>Forgetting</b> (Chaudhry et al., as in Avalanche): mean over earlier tasks of the best accuracy any
      non-final model reached on the task minus the final model’s.</li>
    <li><b>Cost</b>: triggers, models trained, samples trained on (training-set sizes summed over triggers),
      samples processed (summed over models, each epoch counting again), training seconds, and the samples and
      seconds model-based downsampling spent scoring (part of the training seconds), and the wall time of
      its evaluation calls.</li>
  </ul>`;

function figuresTable(pipelines: { name: string; figures: PipelineFigures }[]): string {
  const header = ['pipeline', 'mean composite accuracy', 'backward transfer', 'forward transfer', 'forgetting', 'triggers', 'models', 'samples trained on', 'samples processed', 'training seconds', 'samples scored', 'scoring seconds', 'evaluation seconds'];
  const rows = pipelines.map(({ name, figures: f }) => [
    `<td class="text">${escapeHtml(name)}</td>`,
    ...[pct(f.meanCompositeAccuracy), points(f.backwardTransfer), points(f.forwardTransfer), points(f.forgetting),
      String(f.cost.triggers), String(f.cost.models), String(f.cost.samplesTrained), String(f.cost.samplesProcessed),
      f.cost.trainingSeconds.toFixed(2), String(f.cost.samplesScored), f.cost.scoringSeconds.toFixed(2),
      f.cost.evaluationSeconds.toFixed(2)].map((v) => `<td>${v}</td>`),
  ]);
  return table(header, rows, 'figures', [0]);
}

function triggersTable(data: PipelineReportData): string {
  const model = new Map(data.models.map((m) => [m.triggerId, m]));
  const header = ['trigger', 'first sample (UTC)', 'last sample (UTC)', 'new samples', 'trained on', 'training seconds', 'final loss', 'reason'];
  const rows = data.triggers.map((t) => {
    const m = model.get(t.triggerId);
    return [
      String(t.triggerId), utc(t.minTs), utc(t.maxTs), String(t.numNew), t.numSelected === null ? '–' : String(t.numSelected),
      m ? (m.trainingMs / 1000).toFixed(2) : 'no model', m?.finalLoss != null ? m.finalLoss.toFixed(3) : '–',
    ].map((v) => `<td>${escapeHtml(v)}</td>`).concat(`<td class="text">${escapeHtml(t.reason ?? '–')}</td>`);
  });
  return table(header, rows, 'triggers', [header.length - 1]);
}

function plansTable(data: PipelineReportData): string {
  const header = ['evaluation', 'intervals', 'cells', 'mean composite accuracy', 'strategy'];
  const rows = data.plans.map((p) => [
    `<td class="text">${escapeHtml(p.name)}</td>`,
    ...[String(p.intervals.length), String(p.cells.length), pct(p.meanCompositeAccuracy)].map((v) => `<td>${v}</td>`),
    `<td class="text">${escapeHtml(describeStrategy(p))}</td>`,
  ]);
  return table(header, rows, 'plans', [0, header.length - 1]);
}

/** `rows` hold finished <td> cells; the header cells of the `text` columns align left like their text. */
function table(header: string[], rows: string[][], id: string, text: number[]): string {
  const head = header.map((h, i) => `<th${text.includes(i) ? ' class="text"' : ''}>${escapeHtml(h)}</th>`).join('');
  return `<table id="${id}"><thead><tr>${head}</tr></thead><tbody>${rows.map((r) => `<tr>${r.join('')}</tr>`).join('\n')}</tbody></table>`;
}

function figure(chart: RenderedChart): string {
  return `<figure id="chart-${chart.id}" data-chart="${chart.id}">${chart.svg}
  <figcaption>Hover a mark for details. PNG copy: <a href="${escapeHtml(chart.png)}">${escapeHtml(chart.png)}</a></figcaption></figure>`;
}

function page(title: string, meta: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${meta}</p>
${body}
${NOTES}
</body></html>
`;
}

/** One pipeline's report: its figures, the evaluation heatmap, the composite model over time, costs, triggers. */
export function pipelinePage(data: PipelineReportData, charts: RenderedChart[], generatedAt: Date): string {
  return page(
    `Tideline report: ${data.name}`,
    `${data.triggers.length} triggers, ${data.models.length} models, ${data.matrix.intervals.length} evaluated intervals. Generated ${escapeHtml(generatedAt.toISOString())}.`,
    [
      '<h2>Figures</h2>', figuresTable([data]),
      ...charts.filter((c) => !c.id.startsWith('sample-time-')).map(figure),
      '<h2>Triggers</h2>', triggersTable(data),
      ...(data.plans.length === 0 ? [] : ['<h2>Evaluations in sample time</h2>', plansTable(data), ...charts.filter((c) => c.id.startsWith('sample-time-')).map(figure)]),
    ].join('\n'),
  );
}

/** Several pipelines side by side: composite accuracy over time, the figures, cost against accuracy. */
export function comparisonPage(pipelines: PipelineReportData[], charts: RenderedChart[], generatedAt: Date): string {
  return page(
    'Tideline comparison',
    `Pipelines: ${pipelines.map((p) => escapeHtml(p.name)).join(', ')}. Generated ${escapeHtml(generatedAt.toISOString())}.`,
    ['<h2>Figures</h2>', figuresTable(pipelines), ...charts.map(figure)].join('\n'),
  );
}
