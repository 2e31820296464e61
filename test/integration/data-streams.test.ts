import assert from 'node:assert/strict';
import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { criteoDrift } from '../../lib/streams/criteo-drift.js';
import { STREAMS } from '../../lib/streams/index.js';
import {
  datasetSampleCount, ingestStreamFiles, registerStreamDataset, streamDatasetConfig, streamRoot, writeStreamFiles,
} from '../../lib/streams/prepare.js';
import { sea } from '../../lib/streams/sea.js';
import { DAY, START_TS, type Stream, type StreamOptions } from '../../lib/streams/stream.js';
import { embeddedEnv, tide, within } from '../helpers/cli.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

describe('tide data: benchmark streams as datasets (real PostgreSQL)', () => {
  let db: TestPostgres;
  let home: string;

  before(async () => {
    db = await startTestPostgres();
    home = await mkdtemp(path.join(os.tmpdir(), 'tideline-streams-'));
  });

  after(async () => {
    await db?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  /** What `tide data <stream>` does, step by step. */
  async function prepare(stream: Stream, options: StreamOptions, name: string) {
    const root = streamRoot(home, stream, options);
    const files = await writeStreamFiles(stream, options, root);
    const dataset = await registerStreamDataset(db.pool, streamDatasetConfig(stream, root, name));
    const ingested = await ingestStreamFiles(db.pool, dataset, files);
    return { root, files, dataset, ingested, samples: await datasetSampleCount(db.pool, dataset.id) };
  }

  async function sampleFacts(datasetId: number) {
    const { rows } = await db.pool.query<{ min_label: number; max_label: number; min_ts: string; max_ts: string; in_time_order: boolean }>(
      `SELECT min(label) AS min_label, max(label) AS max_label, min(ts) AS min_ts, max(ts) AS max_ts,
              bool_and(previous IS NULL OR ts >= previous) AS in_time_order
         FROM (SELECT label, ts, lag(ts) OVER (ORDER BY sample_key) AS previous FROM samples WHERE dataset_id = $1) s`,
      [datasetId],
    );
    const r = rows[0]!;
    return { labels: [r.min_label, r.max_label], ts: [Number(r.min_ts), Number(r.max_ts)], inTimeOrder: r.in_time_order };
  }

  it('writes, registers and ingests a stream in sample-time order, and a second run adds nothing', async () => {
    const options = sea.options({ periods: 4, samplesPerPeriod: 300 });
    const first = await prepare(sea, options, 'sea');
    assert.equal(first.root, path.join(home, 'data', 'sea', 'periods-4-samples-300-seed-7'));
    assert.deepEqual(first.files, ['period-00.bin', 'period-01.bin', 'period-02.bin', 'period-03.bin']);
    assert.equal(first.ingested.batches.length, 4);
    assert.equal(first.ingested.alreadyIngested, 0);
    assert.equal(first.samples, 1200);
    assert.deepEqual(first.dataset.holdout, { fraction: 0.15, seed: 0 });
    assert.deepEqual(first.ingested.batches.map((b) => b.firstKey), [1, 301, 601, 901], 'files in period order');
    first.ingested.batches.forEach((b, p) => assert.ok(b.minTs >= START_TS + p * DAY && b.maxTs < START_TS + (p + 1) * DAY, `file ${p} holds day ${p}`));
    const facts = await sampleFacts(first.dataset.id);
    assert.deepEqual(facts.labels, [0, 1]);
    assert.ok(facts.ts[0]! >= START_TS && facts.ts[1]! < START_TS + 4 * DAY, `timestamps ${facts.ts} within the 4 days from 2026-01-01`);
    assert.equal(facts.inTimeOrder, true, 'keys follow sample time');

    const again = await prepare(sea, options, 'sea');
    assert.equal(again.dataset.id, first.dataset.id);
    assert.equal(again.ingested.batches.length, 0);
    assert.equal(again.ingested.alreadyIngested, 4);
    assert.equal(again.samples, 1200, 'nothing duplicated');
  });

  it('refuses a dataset name taken by another run, naming both folders', async () => {
    const other = sea.options({ periods: 4, samplesPerPeriod: 300, seed: 8 });
    await assert.rejects(prepare(sea, other, 'sea'), (e: Error) =>
      e.message.startsWith('dataset "sea" already exists over ') && e.message.includes('periods-4-samples-300-seed-8') && e.message.includes('--name'));
    const named = await prepare(sea, other, 'sea-seed-8');
    assert.equal(named.samples, 1200, 'under another name it is a dataset of its own');
  });

  it('ingests criteo-drift records with their categorical ids and timestamps', async () => {
    const options = criteoDrift.options({ periods: 2, samplesPerPeriod: 200 });
    const run = await prepare(criteoDrift, options, 'clicks');
    assert.equal(run.samples, 400);
    assert.equal(run.dataset.format.kind === 'binary' && run.dataset.format.categorical?.count, 26);
    const facts = await sampleFacts(run.dataset.id);
    assert.deepEqual(facts.labels, [0, 1]);
    assert.ok(facts.ts[0]! >= START_TS && facts.ts[1]! < START_TS + 2 * DAY);
    assert.equal(facts.inTimeOrder, true);
  });

  it('lists the streams from the command line, as JSON, without starting a stack', async () => {
    const list = tide(['data', 'list', '--json'], embeddedEnv(home));
    const { code } = await within('tide data list --json', list.exited, 60_000, list.output);
    assert.equal(code, 0, list.output());
    const listed = JSON.parse(list.stdout()) as { name: string; samples: number; seed: number; driftPoints: { period: number; date: string }[] }[];
    assert.deepEqual(listed.map((s) => s.name), STREAMS.map((s) => s.name));
    const seaListed = listed.find((s) => s.name === 'sea')!;
    assert.equal(seaListed.samples, 16_000);
    assert.equal(seaListed.seed, 7);
    assert.deepEqual(seaListed.driftPoints.map((d) => [d.period, d.date]), [[2, '2026-01-03'], [4, '2026-01-05'], [6, '2026-01-07']]);
    await assert.rejects(access(path.join(home, 'postgres')), 'no PostgreSQL was started for the list');

    const unknown = tide(['data', 'seas'], embeddedEnv(home));
    const refused = await within('tide data seas', unknown.exited, 60_000, unknown.output);
    assert.equal(refused.code, 1);
    assert.match(unknown.output(), /unknown stream "seas"; the streams are mnist-gradual, mnist-abrupt, mnist-label-shift, sea, hyperplane, criteo-drift/);
  });
});
