/**
 * What selection costs, each figure measured in the same run, rounds interleaved:
 * - `presample_ratio`: a 50 % random presample of a window of `rows` samples (selectTrainingSet with
 *   presampling random) ÷ a plain INSERT … SELECT of the same window (the same call without presampling), in
 *   wall time; the other presamplers' ratios are reported beside it.
 * Figures are medians over the rounds, with min and max. Samples are rows of `samples` only (selection never
 * reads payloads), generated in PostgreSQL.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { SelectionPlan } from '../policies/selection/plan.js';
import type { Presampling } from '../policies/selection/schema.js';
import { registerDataset, type Dataset } from '../lib/data/datasets.js';
import { registerPipelinePartition, trainingSamplesTable } from '../lib/data/selection.js';
import { selectTrainingSet } from '../lib/data/training-set/select.js';
import { startEmbeddedPostgres } from '../lib/db/embedded.js';
import { migrate } from '../lib/db/migrate.js';
import { createPool } from '../lib/db/pool.js';
import { upsertPipeline } from '../lib/pipelines/registry.js';
import { recordTrigger } from '../lib/pipelines/triggers.js';
import { spread, timedMs, type Spread } from './rounds.js';
import { recordFormat } from './synthetic-samples.js';
import { removeBenchDir } from './remove-bench-dir.js';

export interface SelectionBenchOptions {
  /** Samples in the window. */
  rows: number;
  rounds: number;
  /** Presampling ratio. */
  ratio: number;
  log?: (line: string) => void;
}

export interface SelectionBenchReport {
  benchmark: 'selection';
  rows: number;
  ratio: number;
  /** Plain INSERT … SELECT of the window, ms. */
  baseline_ms: Spread;
  /** Random presampling ÷ the plain INSERT … SELECT. */
  presample_ratio: Spread;
  /** Every presampler's time ÷ the plain INSERT … SELECT. */
  presamplers: Record<Presampling['strategy'], Spread>;
}

const CLASSES = 10;

export async function benchSelection(opts: SelectionBenchOptions): Promise<SelectionBenchReport> {
  const log = opts.log ?? (() => {});
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-bench-selection-'));
  const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), settings: { autovacuum: 'off' } });
  const pool = createPool(server.url);
  try {
    await migrate(pool);
    const dataset = await registerDataset(pool, { name: 'selection', root: dir, format: recordFormat(1, CLASSES) });
    log(`generating ${opts.rows.toLocaleString('en-US')} samples`);
    await generateSamples(pool, dataset, opts.rows);
    const { pipelineId } = await upsertPipeline(pool, 'bench', 'bench-run', dataset.id, {});
    await registerPipelinePartition(pool, pipelineId);
    const table = trainingSamplesTable(pipelineId);
    let triggerId = 0;
    const range = { firstKey: 1, lastKey: opts.rows };
    /** One selection of the whole window into an emptied training set, timed. */
    const timeSelection = async (presampling?: Presampling): Promise<number> => {
      const id = triggerId++;
      await recordTrigger(pool, pipelineId, dataset.id, id, range, null);
      await pool.query(`TRUNCATE ${table}`);
      await pool.query('CHECKPOINT');
      const plan: SelectionPlan = { window: { kind: 'newData' }, ...(presampling && { presampling }), tracksUses: false, seed: id };
      return timedMs(() => selectTrainingSet(pool, { pipelineId, triggerId: id, datasetId: dataset.id, trigger: range, pipelineFirstKey: 1, holdout: dataset.holdout, plan }));
    };
    const strategies: Presampling[] = [
      { strategy: 'random', ratio: opts.ratio },
      { strategy: 'randomNoReplacement', ratio: opts.ratio },
      { strategy: 'labelBalanced', ratio: opts.ratio, forceColumnBalancing: false, forceRequiredTargetSize: false },
      { strategy: 'triggerBalanced', ratio: opts.ratio, forceColumnBalancing: false, forceRequiredTargetSize: false },
    ];
    await timeSelection(); // warm the caches once
    const baseline: number[] = [];
    const ratios = new Map<string, number[]>(strategies.map((s) => [s.strategy, []]));
    for (let round = 0; round < opts.rounds; round++) {
      const base = await timeSelection();
      baseline.push(base);
      for (const presampling of strategies) {
        const ms = await timeSelection(presampling);
        ratios.get(presampling.strategy)!.push(ms / base);
        log(`round ${round + 1}: plain ${base.toFixed(0)} ms, ${presampling.strategy} ${ms.toFixed(0)} ms (${(ms / base).toFixed(3)})`);
      }
    }
    const presamplers = Object.fromEntries([...ratios].map(([name, values]) => [name, spread(values, 3)])) as SelectionBenchReport['presamplers'];
    return { benchmark: 'selection', rows: opts.rows, ratio: opts.ratio, baseline_ms: spread(baseline, 0), presample_ratio: presamplers.random, presamplers };
  } finally {
    await pool.end();
    await server.stop();
    await removeBenchDir(dir);
  }
}

/** `rows` samples with keys 1..rows, labels spread over the classes by a key hash, in one statement. */
async function generateSamples(pool: pg.Pool, dataset: Dataset, rows: number): Promise<void> {
  await pool.query(
    `INSERT INTO samples (dataset_id, sample_key, file_id, index_in_file, label, ts)
     SELECT $1, k, 1, k - 1, (hashint8(k) & 2147483647) % ${CLASSES}, 1700000000 + k FROM generate_series(1, $2::bigint) AS k`,
    [dataset.id, rows],
  );
  await pool.query('ANALYZE samples');
}
