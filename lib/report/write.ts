import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { accuracyVsCostSpec, compareOverTimeSpec, costSpec, heatmapSpec, overTimeSpec } from './charts.js';
import type { PipelineReportData } from './data.js';
import { planHeatmapSpec } from './plan-charts.js';
import { comparisonPage, pipelinePage, type RenderedChart } from './page.js';
import { renderPng, renderSvg } from './render.js';

export interface WrittenReport {
  /** The HTML page: self-contained, charts inline as SVG. */
  page: string;
  /** PNG copies of the charts, next to the page. */
  pngs: string[];
}

/** Writes one pipeline's report page and its charts' PNG copies into `dir`. */
export async function writePipelineReport(data: PipelineReportData, dir: string): Promise<WrittenReport> {
  const specs: [string, TopLevelSpec][] = [
    ['heatmap', heatmapSpec(data)], ['over-time', overTimeSpec(data)], ['cost', costSpec(data)],
    ...data.plans.map((plan, i): [string, TopLevelSpec] => [`sample-time-${i}`, planHeatmapSpec(plan)]),
  ];
  return writeReport(dir, specs, (charts) => pipelinePage(data, charts, new Date()));
}

/** Writes a page comparing several pipelines, and its charts' PNG copies, into `dir`. */
export async function writeComparisonReport(pipelines: PipelineReportData[], dir: string): Promise<WrittenReport> {
  const specs: [string, TopLevelSpec][] = [
    ['over-time', compareOverTimeSpec(pipelines)], ['accuracy-vs-triggers-and-seconds', accuracyVsCostSpec(pipelines)],
  ];
  return writeReport(dir, specs, (charts) => comparisonPage(pipelines, charts, new Date()));
}

async function writeReport(dir: string, specs: [string, TopLevelSpec][], html: (charts: RenderedChart[]) => string): Promise<WrittenReport> {
  await mkdir(dir, { recursive: true });
  const charts: RenderedChart[] = [];
  for (const [id, spec] of specs) {
    const svg = await renderSvg(spec);
    const png = `${id}.png`;
    await writeFile(join(dir, png), await renderPng(svg));
    charts.push({ id, svg, png });
  }
  const page = join(dir, 'index.html');
  await writeFile(page, html(charts));
  return { page, pngs: charts.map((c) => join(dir, c.png)) };
}
