/**
 * What an experiment's table leaves out, per variant as means over its seeds: the serving model's accuracy on each
 * interval of the shared evaluation in sample time (the table's accuracy is their mean, weighted by held-out
 * samples), and the samples training processed (epochs and downsampling included; the table's "samples trained"
 * counts the presampled training sets). Prints a Markdown table. With the experiment's stack up:
 *   node --import tsx experiments/per-day.ts <experiment name>
 */
import { openContext } from '../cli/context.js';
import { loadPipelineReport } from '../lib/report/data.js';

const experiment = process.argv[2];
if (!experiment) throw new Error('usage: node --import tsx experiments/per-day.ts <experiment name>');

/** Mean of the values that exist; null when none does. */
function mean(values: (number | null | undefined)[]): number | null {
  const present = values.filter((v): v is number => typeof v === 'number');
  return present.length === 0 ? null : present.reduce((a, b) => a + b, 0) / present.length;
}
const percent = (v: number | null) => (v === null ? '–' : (100 * v).toFixed(1));

const ctx = await openContext();
try {
  const { rows } = await ctx.pool.query<{ name: string }>(
    `SELECT name FROM pipelines WHERE starts_with(name, $1) AND name ~ '/seed-[0-9]+$' ORDER BY pipeline_id`, [`${experiment}/`],
  );
  const variants = new Map<string, { composite: (number | null)[]; mean: number | null; processed: number }[]>();
  let days: string[] = [];
  for (const { name } of rows) {
    const report = await loadPipelineReport(ctx.pool, name);
    const shared = report.plans.find((p) => p.name === `${name}/after-pipeline-0`);
    if (!shared) throw new Error(`${name} has no shared evaluation: give the experiment an \`evaluation\``);
    days = shared.composite.map((p) => new Date(p.startTs * 1000).toISOString().slice(5, 10));
    const variant = name.slice(experiment.length + 1).replace(/\/seed-\d+$/, '');
    const seeds = variants.get(variant) ?? [];
    seeds.push({ composite: shared.composite.map((p) => p.activeAccuracy), mean: shared.meanCompositeAccuracy, processed: report.figures.cost.samplesProcessed });
    variants.set(variant, seeds);
  }
  console.log(`| variant | ${days.join(' | ')} | mean | samples processed |`);
  console.log(`| --- |${' ---: |'.repeat(days.length + 2)}`);
  for (const [variant, seeds] of variants) {
    const perDay = days.map((_, i) => percent(mean(seeds.map((s) => s.composite[i]))));
    console.log(`| ${variant} | ${perDay.join(' | ')} | ${percent(mean(seeds.map((s) => s.mean)))} | ${Math.round(mean(seeds.map((s) => s.processed))!)} |`);
  }
} finally {
  await ctx.close();
}
// The Temporal client's native runtime keeps the event loop alive after close.
process.exit(0);
