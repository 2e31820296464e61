import { join } from 'node:path';

/** A pipeline name as one safe folder name: workflow ids may hold slashes or be all dots. */
function folderName(name: string): string {
  return name.replace(/[^\w.-]/g, '_').replace(/^\.+$/, (dots) => '_'.repeat(dots.length));
}

/** Where a pipeline's report goes by default: <TIDELINE_HOME>/reports/<pipeline>/. */
export function pipelineReportDir(home: string, pipeline: string): string {
  return join(home, 'reports', folderName(pipeline));
}

/** Where a comparison goes by default: <TIDELINE_HOME>/reports/compare/<a>+<b>+…/. */
export function comparisonReportDir(home: string, pipelines: string[]): string {
  return join(home, 'reports', 'compare', pipelines.map(folderName).join('+'));
}
