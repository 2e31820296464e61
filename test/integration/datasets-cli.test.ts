import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeDataset } from '../../lib/data/dataset-removal.js';
import { updateDataset } from '../../lib/data/dataset-update.js';
import { getDataset, registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { DataError } from '../../lib/data/errors.js';
import { ingestFiles, type IngestOutcome } from '../../lib/data/ingest.js';
import { registerPipelinePartition } from '../../lib/data/selection.js';
import { watchDataset } from '../../lib/data/watcher.js';
import { createPool } from '../../lib/db/pool.js';
import { embeddedEnv, tide, within } from '../helpers/cli.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

const csvFormat = { kind: 'csv', labelColumn: 'label', featureColumns: ['speed', 'distance'], timestampColumn: 'ts', numClasses: 2 };
const HEADER = 'ts,speed,distance,label\n';

describe('datasets a user can fix: header checks, update, remove, backdated data (real PostgreSQL)', () => {
  let db: TestPostgres;
  let dir: string;

  /** A dataset root holding the given CSV files. */
  async function rootWith(name: string, files: Record<string, string>): Promise<string> {
    const root = path.join(dir, name);
    await mkdir(root, { recursive: true });
    for (const [file, text] of Object.entries(files)) await writeFile(path.join(root, file), text);
    return root;
  }

  async function tableExists(table: string): Promise<boolean> {
    return (await db.pool.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [table])).rows[0]!.found;
  }

  before(async () => {
    db = await startTestPostgres();
    dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-datasets-'));
  });

  after(async () => {
    await db?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('checks CSV columns against the first file at add time, naming the field and listing the header', async () => {
    const root = await rootWith('trips', { 'a.csv': HEADER + '1,2,3,0\n', 'b.csv': 'other\n' });
    const misspelt = { ...csvFormat, featureColumns: ['speed', 'distanse'] };
    await assert.rejects(
      registerDataset(db.pool, { name: 'trips', root, format: misspelt as never }),
      (e: unknown) =>
        e instanceof DataError &&
        e.message === 'dataset "trips": format.featureColumns[1]: no column named "distanse" in the header of a.csv ("ts", "speed", "distance", "label")',
    );
    assert.equal(await getDataset(db.pool, 'trips'), undefined, 'nothing registered');
    const byIndex = { kind: 'csv', header: false, labelColumn: 4, featureColumns: [0] };
    const headerless = await rootWith('headerless', { 'a.csv': '1,2,3,0\n' });
    await assert.rejects(registerDataset(db.pool, { name: 'headerless', root: headerless, format: byIndex as never }), /format\.labelColumn: column index 4 is out of range; a\.csv has 4 columns/);

    const empty = await rootWith('later', {});
    const registered = await registerDataset(db.pool, { name: 'later', root: empty, format: misspelt as never });
    assert.equal(registered.name, 'later', 'an empty root has no header to check yet');
  });

  it('updates ingest settings, and CSV columns only while nothing is ingested; refuses the rest by field', async () => {
    const root = await rootWith('update', { 'a.csv': HEADER + '10,2,3,0\n11,2,3,1\n' });
    const config = { name: 'update', root, format: { ...csvFormat, featureColumns: ['speed'] } };
    const dataset = await registerDataset(db.pool, config as never);

    const widened = { ...config, format: { ...csvFormat }, ingest: { parallel: 4, strict: true } };
    const update = await updateDataset(db.pool, widened);
    assert.deepEqual(update.changed, ['format.featureColumns', 'ingest.parallel', 'ingest.strict']);
    assert.deepEqual((await getDataset(db.pool, 'update'))!.ingest, { parallel: 4, strict: true });
    assert.deepEqual(((await getDataset(db.pool, 'update'))!.format as { featureColumns: string[] }).featureColumns, ['speed', 'distance']);
    assert.deepEqual((await updateDataset(db.pool, widened)).changed, [], 'the same config changes nothing');

    await assert.rejects(updateDataset(db.pool, { ...widened, format: { ...csvFormat, labelColumn: 'nope' } }), /format\.labelColumn: no column named "nope" in the header of a\.csv/);

    const current = (await getDataset(db.pool, 'update'))!;
    await ingestFiles(db.pool, current, ['a.csv']);
    await assert.rejects(
      updateDataset(db.pool, { ...widened, format: { ...csvFormat, featureColumns: ['distance', 'speed'] } }),
      /format\.featureColumns: cannot change \(\["speed","distance"\] → \["distance","speed"\]\) once samples are ingested: 2 were read/,
    );
    await assert.rejects(
      updateDataset(db.pool, { ...widened, root: dir, format: { ...csvFormat, numClasses: 3 }, hashPartitions: 8 }),
      (e: unknown) =>
        e instanceof DataError &&
        /^dataset "update": root: cannot change .*; hashPartitions: cannot change \(4 → 8\).*; format\.numClasses: cannot change \(2 → 3\): ingested files are read back with it/.test(e.message),
    );
    await assert.rejects(updateDataset(db.pool, { ...widened, format: { kind: 'text' } }), /format\.kind: cannot change \("csv" → "text"\)/);
    await assert.rejects(updateDataset(db.pool, { ...widened, name: 'absent' }), /no dataset named "absent"/);
    assert.deepEqual((await updateDataset(db.pool, { ...widened, ingest: { pollSeconds: 5 } })).changed, ['ingest.parallel', 'ingest.pollSeconds', 'ingest.strict']);
    assert.equal(dataset.id, current.id);
  });

  it('removes a dataset with its samples, refusing while pipelines use it unless forced', async () => {
    const root = await rootWith('doomed', { 'a.csv': HEADER + '1,2,3,0\n2,2,3,1\n', 'b.csv': 'ts,speed,distance,label\n1,x,3,0\n' });
    const dataset = await registerDataset(db.pool, { name: 'doomed', root, format: csvFormat as never });
    await ingestFiles(db.pool, dataset, ['a.csv', 'b.csv']);
    const { rows: [pipeline] } = await db.pool.query<{ id: number }>(
      `INSERT INTO pipelines (name, dataset_id, spec) VALUES ('uses-doomed', $1, '{}') RETURNING pipeline_id AS id`,
      [dataset.id],
    );
    const pipelineId = pipeline!.id;
    await registerPipelinePartition(db.pool, pipelineId);
    await db.pool.query(`INSERT INTO triggers (pipeline_id, trigger_id, first_key, last_key, num_new, min_ts, max_ts) VALUES ($1, 0, 1, 2, 2, 1, 2)`, [pipelineId]);
    await db.pool.query(`INSERT INTO training_samples (pipeline_id, trigger_id, sample_key) VALUES ($1, 0, 1)`, [pipelineId]);
    const { rows: [model] } = await db.pool.query<{ id: number }>(
      `INSERT INTO models (pipeline_id, trigger_id, architecture, onnx_path, state_path, sha256, num_samples, training_ms)
       VALUES ($1, 0, '{}', 'm.onnx', 'm.state', 'x', 2, 1) RETURNING model_id AS id`,
      [pipelineId],
    );
    await db.pool.query(`INSERT INTO models (pipeline_id, trigger_id, parent_model_id, architecture, onnx_path, state_path, sha256, num_samples, training_ms)
       VALUES ($1, 1, $2, '{}', 'n.onnx', 'n.state', 'y', 2, 1)`, [pipelineId, model!.id]);
    await db.pool.query(`INSERT INTO evaluations (pipeline_id, model_id, interval_id, first_key, last_key, num_samples) VALUES ($1, $2, 0, 1, 2, 2)`, [pipelineId, model!.id]);
    await db.pool.query(
      `INSERT INTO policy_evaluations (pipeline_id, policy, first_key, last_key, scores, thresholds, triggered, reason) VALUES ($1, 'trigger', 1, 2, '{}', '{}', true, 'r')`,
      [pipelineId],
    );

    await assert.rejects(removeDataset(db.pool, 'doomed'), /dataset "doomed" is used by pipeline\(s\) "uses-doomed"; remove it with --force.*running workflows are not stopped/);
    assert.ok(await getDataset(db.pool, 'doomed'), 'a refused removal leaves everything');
    assert.ok(await tableExists(`samples_d${dataset.id}`));

    const removed = await removeDataset(db.pool, 'doomed', { force: true });
    assert.deepEqual(removed, { name: 'doomed', id: dataset.id, files: 1, samples: 2, quarantined: 1, pipelines: ['uses-doomed'] });
    assert.equal(await getDataset(db.pool, 'doomed'), undefined);
    assert.equal(await tableExists(`samples_d${dataset.id}`), false);
    assert.equal(await tableExists(`training_samples_p${pipelineId}`), false);
    for (const table of ['files', 'quarantined_files']) {
      assert.equal((await db.pool.query(`SELECT 1 FROM ${table} WHERE dataset_id = $1`, [dataset.id])).rowCount, 0, table);
    }
    for (const table of ['pipelines', 'triggers', 'models', 'evaluations', 'policy_evaluations']) {
      assert.equal((await db.pool.query(`SELECT 1 FROM ${table} WHERE pipeline_id = $1`, [pipelineId])).rowCount, 0, table);
    }
    await assert.rejects(removeDataset(db.pool, 'doomed'), /no dataset named "doomed"/);
    // The name is free again, with a fresh partition.
    const again = await registerDataset(db.pool, { name: 'doomed', root, format: csvFormat as never });
    assert.equal((await ingestFiles(db.pool, again, ['a.csv']))[0]!.status, 'ingested');
  });

  it('ingests backdated samples in stream order, reporting their count and range per file', async () => {
    const root = await rootWith('late', {
      'a.csv': HEADER + '100,1,1,0\n120,1,1,1\n',
      'b.csv': HEADER + '130,1,1,0\n90,1,1,1\n110,1,1,0\n',
      'c.csv': HEADER + '200,1,1,0\n',
    });
    const dataset: Dataset = await registerDataset(db.pool, { name: 'late', root, format: csvFormat as never });
    const outcomes = (await ingestFiles(db.pool, dataset, ['a.csv', 'b.csv', 'c.csv'])) as Extract<IngestOutcome, { status: 'ingested' }>[];
    assert.deepEqual(outcomes.map((o) => o.backdated), [undefined, { count: 2, minTs: 90, maxTs: 110, latestTs: 120 }, undefined]);
    assert.deepEqual(outcomes.map((o) => [o.batch.firstKey, o.batch.lastKey]), [[1, 2], [3, 5], [6, 6]], 'keys follow ingestion order');
  });

  it('a watch moves to the pool reconnect gives after the database stops answering, and gives up after bounded polls', async () => {
    const root = await rootWith('watched', { 'a.csv': HEADER + '1,1,1,0\n' });
    const dataset = await registerDataset(db.pool, { name: 'watched', root, format: csvFormat as never });
    // Port 1: nothing listens there, as at a stack's old address after it restarted.
    const gone = createPool('postgres://tideline@127.0.0.1:1/tideline');
    try {
      const unreachable: unknown[] = [];
      await assert.rejects(
        watchDataset(gone, dataset, { intervalMs: 5, signal: new AbortController().signal, onBatches: () => {}, onError: (e) => unreachable.push(e), maxUnreachablePolls: 3 }),
        (e: unknown) => e instanceof DataError && /^watching dataset "watched": the database could not be reached in 3 polls in a row \(last: .*ECONNREFUSED/.test(e.message),
      );
      assert.equal(unreachable.length, 3);

      const controller = new AbortController();
      const delivered: number[] = [];
      let reconnects = 0;
      await watchDataset(gone, dataset, {
        intervalMs: 5,
        signal: controller.signal,
        maxUnreachablePolls: 3,
        reconnect: async () => (reconnects++, db.pool),
        onBatches: (batches) => {
          delivered.push(...batches.map((b) => b.count));
          controller.abort();
        },
      });
      assert.deepEqual([reconnects, delivered], [1, [1]]);
    } finally {
      await gone.end();
    }
  });

  it('`tide dataset list` ends its output with a newline', { timeout: 120_000 }, async () => {
    const home = path.join(dir, 'home');
    const list = tide(['dataset', 'list'], embeddedEnv(home));
    const { code } = await within('tide dataset list', list.exited, 110_000, list.output);
    // As root, PostgreSQL's data was placed outside the mode-700 temp folder, linked from <home>/postgres.
    await rm(await realpath(path.join(home, 'postgres')).catch(() => home), { recursive: true, force: true });
    assert.equal(code, 0, list.output());
    assert.equal(list.stdout(), 'no datasets (register one with `tide dataset add`)\n');
  });
});
