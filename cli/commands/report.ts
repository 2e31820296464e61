import { parseArgs } from 'node:util';
import type pg from 'pg';
import type { PipelineFigures } from '../../lib/eval/composite.js';
import { loadPipelineReport } from '../../lib/report/data.js';
import { comparisonReportDir, pipelineReportDir } from '../../lib/report/paths.js';
import { writeComparisonReport, writePipelineReport, type WrittenReport } from '../../lib/report/write.js';
import { openContext } from '../context.js';

/** Writes a pipeline's HTML report (and PNG copies of its charts) to `out`, by default under TIDELINE_HOME. */
export async function writeReport(pool: pg.Pool, home: string, pipeline: string, out?: string): Promise<WrittenReport & { figures: PipelineFigures }> {
  const data = await loadPipelineReport(pool, pipeline);
  return { ...(await writePipelineReport(data, out ?? pipelineReportDir(home, pipeline))), figures: data.figures };
}

/** `tide report <pipeline> [--out DIR] [--json]`: the pipeline's report page; --json prints its figures too. */
export async function report(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, options: { out: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const [pipeline] = positionals;
  if (!pipeline || positionals.length > 1) throw new Error('usage: tide report <pipeline> [--out DIR] [--json]');
  const ctx = await openContext();
  try {
    const written = await writeReport(ctx.pool, ctx.config.home, pipeline, values.out);
    if (values.json) console.log(JSON.stringify({ pipeline, page: written.page, figures: written.figures }, null, 2));
    else console.log(`Report: ${written.page}`);
  } finally {
    await ctx.close();
  }
}

/** `tide compare <pipeline>… [--out DIR] [--json]`: several pipelines side by side on one page. */
export async function compare(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, options: { out: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length === 0) throw new Error('usage: tide compare <pipeline>… [--out DIR] [--json]');
  const ctx = await openContext();
  try {
    const pipelines = await Promise.all(positionals.map((name) => loadPipelineReport(ctx.pool, name)));
    const written = await writeComparisonReport(pipelines, values.out ?? comparisonReportDir(ctx.config.home, positionals));
    if (values.json) console.log(JSON.stringify({ page: written.page, pipelines: pipelines.map((p) => ({ pipeline: p.name, figures: p.figures })) }, null, 2));
    else console.log(`Comparison: ${written.page}`);
  } finally {
    await ctx.close();
  }
}
