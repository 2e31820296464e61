import type pg from 'pg';
import type { ModelStore } from '../lib/models/store.js';
import { listEvaluations } from '../lib/pipelines/evaluations.js';
import { listModels, type ModelRow } from '../lib/pipelines/models.js';
import { latestPolicyEvaluations } from '../lib/pipelines/policy-evaluations.js';
import { listTriggers, type TriggerRow } from '../lib/pipelines/triggers.js';
import { describeStrategy } from '../lib/report/plan-charts.js';
import { loadPlanReports } from '../lib/report/plan-data.js';
import { formatBytes } from './bytes.js';

/** A text table: numbers right-aligned, the columns in `text` (by index) left-aligned. */
function table(header: string[], rows: string[][], text: number[] = [0]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (text.includes(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}

/** Next to a final loss whose model carries a warning (e.g. diverged); the warnings follow the table. */
const WARNING_MARK = '⚠';

const pct = (value: number | null | undefined) => (value === undefined || value === null || Number.isNaN(value) ? '–' : `${(100 * value).toFixed(1)}%`);

/** Policy evaluations shown: the latest ones, newest last. */
const RECENT_EVALUATIONS = 8;

const scoreText = (scores: Record<string, number>, thresholds: Record<string, number>) =>
  Object.entries(scores)
    .map(([name, v]) => `${name} ${fmt(v)}${name in thresholds ? ` (thr. ${fmt(thresholds[name]!)})` : ''}`)
    .join(', ');
const fmt = (v: number) => (Math.abs(v) >= 1000 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(3));

/**
 * The pipeline's results from the database: one row per trigger (data, training, accuracy on the next
 * period, why it fired), the latest evaluations of its trigger policy, and the evaluation matrix
 * (model × interval accuracy on held-out samples). Given the model store, also the size of the pipeline's model files.
 */
export async function pipelineReport(pool: pg.Pool, pipelineId: number, store?: ModelStore): Promise<string> {
  const [triggers, models, evaluations, policyEvaluations] = await Promise.all([
    listTriggers(pool, pipelineId), listModels(pool, pipelineId), listEvaluations(pool, pipelineId),
    latestPolicyEvaluations(pool, pipelineId, RECENT_EVALUATIONS),
  ]);
  const accuracy = new Map(evaluations.map((e) => [`${e.modelTrigger}/${e.intervalId}`, e.accuracy]));
  const modelOf = new Map(models.map((m) => [m.triggerId, m]));
  const intervals = [...new Set(evaluations.map((e) => e.intervalId))].sort((a, b) => a - b);

  const triggerRows = triggers.map((t) => {
    const model = modelOf.get(t.triggerId);
    return [
      String(t.triggerId),
      String(t.numNew),
      String(t.numWindow ?? '–'),
      String(t.numSelected ?? '–'),
      model ? String(model.numSamples) : '–',
      model ? String(model.numScored) : '–',
      model ? `${(model.trainingMs / 1000).toFixed(2)}s` : '–',
      model ? `${(model.scoringMs / 1000).toFixed(2)}s` : '–',
      (model?.finalLoss != null ? model.finalLoss.toFixed(3) : '–') + (model?.warning ? ` ${WARNING_MARK}` : ''),
      pct(accuracy.get(`${t.triggerId}/${t.triggerId}`)),
      pct(accuracy.get(`${t.triggerId}/${t.triggerId + 1}`)),
      t.reason ?? '–',
    ];
  });
  const policyRows = policyEvaluations.reverse().map((e) => [
    e.policy, `${e.interval.firstKey}–${e.interval.lastKey}`, e.modelId === null ? '–' : String(e.modelId),
    e.triggered ? 'yes' : 'no', scoreText(e.scores, e.thresholds) || '–', e.reason,
  ]);
  const matrixRows = models.map((m) => [`model ${m.triggerId}`, ...intervals.map((i) => pct(accuracy.get(`${m.triggerId}/${i}`)))]);
  return [
    'Triggers',
    table(
      ['trigger', 'new samples', 'window', 'selected', 'trained', 'scored', 'training time', 'of it scoring', 'final loss', 'acc. own period', 'acc. next period', 'reason'],
      triggerRows, [0, 11],
    ),
    ...models.filter((m) => m.warning).map((m) => `  ${WARNING_MARK} trigger ${m.triggerId}: ${m.warning}`),
    ...(store ? [await storeSizeLine(store, models)] : []),
    '',
    ...(policyRows.length > 0
      ? ['Latest trigger-policy evaluations', table(['policy', 'keys', 'model', 'fired', 'scores', 'decision'], policyRows, [0, 4, 5]), '']
      : []),
    'Evaluation matrix (accuracy on each interval\'s held-out samples; rows: models, columns: intervals)',
    table(['', ...intervals.map((i) => `int. ${i}`)], matrixRows),
    ...(await plansSection(pool, pipelineId, triggers, models)),
  ].join('\n');
}

/** The pipeline's evaluations in sample time (after it, or by `tide evaluate`): one line each; `tide evaluate` shows one whole. */
async function plansSection(pool: pg.Pool, pipelineId: number, triggers: TriggerRow[], models: ModelRow[]): Promise<string[]> {
  const plans = await loadPlanReports(pool, pipelineId, triggers, models);
  if (plans.length === 0) return [];
  const rows = plans.map((p) => [p.name, String(p.intervals.length), String(p.cells.length), pct(p.meanCompositeAccuracy), describeStrategy(p)]);
  return ['', 'Evaluations in sample time', table(['evaluation', 'intervals', 'cells', 'mean composite acc.', 'strategy'], rows, [0, 4])];
}

/** The disk the pipeline's model files take (inference graphs and states), and how many models `tide gc` deleted. */
async function storeSizeLine(store: ModelStore, models: ModelRow[]): Promise<string> {
  const sizes = await Promise.all(models.flatMap((m) => [store.fileSize(m.onnxPath), store.fileSize(m.statePath)]));
  const deleted = models.filter((m) => m.deletedAt !== null).length;
  const stored = models.length - deleted;
  return `  Model store: ${formatBytes(sizes.reduce((a, b) => a + b, 0))} on disk for ${stored} models` +
    (deleted > 0 ? `; files of ${deleted} older models deleted by \`tide gc\`` : '');
}
