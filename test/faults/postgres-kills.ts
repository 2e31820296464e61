import assert from 'node:assert/strict';
import pg from 'pg';
import { ingestFiles } from '../../lib/data/ingest.js';
import { samplesTable } from '../../lib/data/bulk-load.js';
import { trainingSamplesTable } from '../../lib/data/selection.js';
import type { PipelineStatus } from '../../workflows/messages.js';
import { tide } from '../helpers/cli.js';
import { assertIngestExact } from './invariants.js';
import { position } from './pipeline-run.js';
import { faultedRun, type ScenarioResult } from './scenario.js';
import { DATA, type FaultWorld } from './world.js';

const GATE_WAIT_MS = 180_000;

/**
 * A statement of the pipeline held mid-transaction: `table` is locked (SHARE: reads pass, writes wait) by a
 * session of the test, so the transaction that writes it next stops right there, its earlier statements done
 * and uncommitted. The lock dies with the server.
 */
export async function gate(world: FaultWorld, table: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: world.postgres.url });
  client.on('error', () => {});
  await client.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${table} IN SHARE MODE`);
  return client;
}

/** Waits until a session waits on a lock in a statement starting with `statement`. */
export async function blockedAt(world: FaultWorld, statement: string): Promise<void> {
  const deadline = Date.now() + GATE_WAIT_MS;
  for (;;) {
    const { rows: [row] } = await world.postgres.pool.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE $1`, [`${statement}%`],
    );
    if (row.n > 0) return;
    assert.ok(Date.now() < deadline, `nothing blocked at "${statement}" within ${GATE_WAIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function crashPostgres(world: FaultWorld): Promise<number> {
  const started = Date.now();
  await world.postgres.kill();
  await world.postgres.restart();
  return (Date.now() - started) / 1000;
}

/**
 * PostgreSQL SIGKILLed (the postmaster and every backend at once) mid-ingest, mid-selection and mid-evaluation,
 * each time at the worst moment: inside the transaction, before it commits. The pipeline starts on half
 * the data; `tide ingest` brings the rest while it trains trigger 0 and is cut inside its first file's
 * transaction (files row inserted, COPY of the samples waiting). Its retry must find no trace of that file and
 * ingest the rest exactly once; the pipeline, whose activities lost their connections each time, must end as
 * an uninterrupted run on the whole data does.
 */
export async function postgresKills(world: FaultWorld, seed: number): Promise<ScenarioResult> {
  const name = 'faults-pg';
  const { dataset, files } = await world.addDataset(name);
  const first = files.slice(0, DATA.files / 2);
  const rest = files.slice(DATA.files / 2);
  await ingestFiles(world.postgres.pool, dataset, first);
  const expect = (paths: string[]) => paths.map((path) => ({ path, samples: DATA.fileSamples }));
  const notes: string[] = [];
  const injected: ScenarioResult['injected'] = [];
  const kill = async (observed: string) => {
    const down = await crashPostgres(world);
    injected.push({ kind: 'PostgreSQL SIGKILLed', planned: observed, observed: `${observed}; up again after ${down.toFixed(1)} s`, late: false });
  };

  const ingestRest = () => tide(['ingest', name, ...rest], { ...process.env, ...world.env });
  const pool = world.postgres.pool;
  const one = async (text: string, pipelineId: number) => (await pool.query(text, [pipelineId])).rows[0]?.n as number | undefined;
  let step: 'ingest' | 'selection' | 'evaluation' | 'done' = 'ingest';
  const watch = async (status: PipelineStatus | undefined) => {
    const at = status && position(status.current);
    const pipelineId = status?.pipelineId;
    if (!at || pipelineId === undefined) return;
    if (step === 'ingest' && 'triggerId' in at && at.stage === 'training') {
      await gate(world, samplesTable(dataset));
      const cut = ingestRest();
      await blockedAt(world, `COPY ${samplesTable(dataset)}`);
      await kill(`mid-ingest: \`tide ingest\` inside the transaction of ${rest[0]} (its files row inserted, COPY of its samples under way)`);
      const { code } = await cut.exited;
      assert.notEqual(code, 0, `the cut ingest exited with 0:\n${cut.output()}`);
      notes.push(`the cut \`tide ingest\` exited with ${code}: ${cut.output().split('\n').filter((l) => l.includes('not ingested')).map((l) => l.trim()).join('; ')}`);
      await assertIngestExact(pool, dataset.id, expect(first));
      const again = ingestRest();
      const { code: againCode } = await again.exited;
      assert.equal(againCode, 0, `ingesting again failed:\n${again.output()}`);
      await assertIngestExact(pool, dataset.id, expect(files));
      // The next trigger's selection waits at its first write of the training set.
      await gate(world, trainingSamplesTable(pipelineId));
      step = 'selection';
    } else if (step === 'selection') {
      await blockedAt(world, 'DELETE FROM training_samples');
      const trigger = await one('SELECT trigger_id AS n FROM triggers WHERE pipeline_id = $1 AND num_selected IS NULL', pipelineId);
      await kill(`mid-selection: trigger ${trigger}'s selection transaction (its trigger row locked, the training set being written)`);
      await gate(world, 'evaluations');
      step = 'evaluation';
    } else if (step === 'evaluation') {
      await blockedAt(world, 'INSERT INTO evaluations');
      const trigger = await one('SELECT max(trigger_id) AS n FROM models WHERE pipeline_id = $1', pipelineId);
      await kill(`mid-evaluation: the evaluation after trigger ${trigger} (models scored, its first cell being stored)`);
      step = 'done';
    }
  };
  const result = await faultedRun(world, { name: 'postgres-kills', dataset: name, seed, watch });
  assert.equal(step, 'done', `the PostgreSQL faults stopped before ${step}`);
  return {
    ...result, injected, notes,
    held: [...result.held, `ingestion: no partial file after the kill, ${DATA.files} files and ${DATA.files * DATA.fileSamples} samples with dense keys after the retry`],
  };
}
