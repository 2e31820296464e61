import type pg from 'pg';
import { listEvaluations } from '../lib/pipelines/evaluations.js';
import { listModels } from '../lib/pipelines/models.js';
import { listTriggers } from '../lib/pipelines/triggers.js';

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}

const pct = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? '–' : `${(100 * value).toFixed(1)}%`);

/**
 * The pipeline's results from the database: one row per trigger (data, training, accuracy on the
 * next period) and the evaluation matrix (model × interval accuracy on held-out samples).
 */
export async function pipelineReport(pool: pg.Pool, pipelineId: number): Promise<string> {
  const [triggers, models, evaluations] = await Promise.all([
    listTriggers(pool, pipelineId), listModels(pool, pipelineId), listEvaluations(pool, pipelineId),
  ]);
  const accuracy = new Map(evaluations.map((e) => [`${e.modelTrigger}/${e.intervalId}`, e.accuracy]));
  const modelOf = new Map(models.map((m) => [m.triggerId, m]));
  const intervals = [...new Set(evaluations.map((e) => e.intervalId))].sort((a, b) => a - b);

  const triggerRows = triggers.map((t) => {
    const model = modelOf.get(t.triggerId);
    return [
      String(t.triggerId),
      String(t.numNew),
      String(t.numSelected ?? '–'),
      model ? `${(model.trainingMs / 1000).toFixed(2)}s` : '–',
      model?.finalLoss != null ? model.finalLoss.toFixed(3) : '–',
      pct(accuracy.get(`${t.triggerId}/${t.triggerId}`)),
      pct(accuracy.get(`${t.triggerId}/${t.triggerId + 1}`)),
    ];
  });
  const matrixRows = models.map((m) => [`model ${m.triggerId}`, ...intervals.map((i) => pct(accuracy.get(`${m.triggerId}/${i}`)))]);
  return [
    'Triggers',
    table(['trigger', 'new samples', 'trained on', 'training time', 'final loss', 'acc. own period', 'acc. next period'], triggerRows),
    '',
    'Evaluation matrix (accuracy on each interval\'s held-out samples; rows: models, columns: intervals)',
    table(['', ...intervals.map((i) => `int. ${i}`)], matrixRows),
  ].join('\n');
}
