import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { registerDataset } from '../../lib/data/datasets.js';
import { recordEvaluationTime, upsertEvaluation } from '../../lib/pipelines/evaluations.js';
import { upsertModel } from '../../lib/pipelines/models.js';
import { upsertPipeline } from '../../lib/pipelines/registry.js';
import { recordTrigger } from '../../lib/pipelines/triggers.js';
import { accuracyVsCostSpec, compareOverTimeSpec } from '../../lib/report/charts.js';
import { loadPipelineReport } from '../../lib/report/data.js';
import type { PlanReport } from '../../lib/report/plan-data.js';
import { writeComparisonReport, writePipelineReport } from '../../lib/report/write.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { syntheticFormat } from '../helpers/synthetic.js';

const run = promisify(execFile);

const DAY = 86_400;
const START_TS = 1_700_000_000;
const PER_DAY = 100;
/** Triggers 0–3 cover one day of samples each; the fifth day is the data after the last trigger (interval 4). */
const TRIGGERS = 4;
const INTERVALS = TRIGGERS + 1;
/** Trigger 2 skips training: three models. */
const TRAINED = [0, 1, 3];
const HOSTILE_REASON = 'drift <script>alert("x")</script> & more';

/** A pipeline's triggers, models and full evaluation matrix, written through the lib functions. */
async function seedPipeline(db: TestPostgres, datasetId: number, name: string, accuracyOffset: number) {
  const { pipelineId } = await upsertPipeline(db.pool, name, `run-${name}`, datasetId, { model: { numClasses: 4 } });
  for (let t = 0; t < TRIGGERS; t++) {
    const range = { firstKey: t * PER_DAY + 1, lastKey: (t + 1) * PER_DAY };
    await recordTrigger(db.pool, pipelineId, datasetId, t, range, t === 1 ? HOSTILE_REASON : `time: 1d elapsed (day ${t})`);
    await db.pool.query('UPDATE triggers SET num_window = $3, num_selected = $3 WHERE pipeline_id = $1 AND trigger_id = $2', [pipelineId, t, TRAINED.includes(t) ? PER_DAY : 0]);
  }
  for (const t of TRAINED) await recordEvaluationTime(db.pool, pipelineId, `after:${t}`, 4, t === 0 ? 100 : 250);
  await recordEvaluationTime(db.pool, pipelineId, 'after:0', 4, 150);
  const modelIds = new Map<number, number>();
  for (const t of TRAINED) {
    modelIds.set(t, await upsertModel(db.pool, pipelineId, {
      triggerId: t, parentModelId: null, architecture: { architecture: 'mlp' }, onnxPath: `m${t}.onnx`, statePath: `m${t}.state`,
      sha256: 'x'.repeat(64), numSamples: 2 * PER_DAY, trainingMs: 1200 + 300 * t, finalLoss: 0.5 - 0.05 * t,
    }));
  }
  for (const [t, modelId] of modelIds) {
    for (let i = 0; i < INTERVALS; i++) {
      // Best on its own day, worse the further away: a drifting stream.
      const accuracy = Math.max(0.3, 0.92 - 0.12 * Math.abs(i - t) - accuracyOffset);
      await upsertEvaluation(db.pool, pipelineId, { modelId, intervalId: i, firstKey: i * PER_DAY + 1, lastKey: (i + 1) * PER_DAY, numSamples: 15, metrics: { accuracy, loss: 1 - accuracy } });
    }
  }
}

/**
 * How many items the chart layer named `layer` drew: Vega gives its mark group the class `<layer>_marks`
 * (one group per series for a line split by colour).
 */
function markCount(svg: string, layer: string): number {
  const groups = [...svg.matchAll(new RegExp(`<g class="mark-\\w+ role-mark ${layer}_marks"[^>]*>(.*?)</g>`, 'gs'))];
  assert.ok(groups.length > 0, `no mark group ${layer}_marks`);
  return groups.reduce((n, g) => n + g[1]!.split('role="graphics-symbol"').length - 1, 0);
}

/** The first chromium on PATH, or undefined. */
async function chromium(): Promise<string | undefined> {
  for (const name of ['chromium', 'chromium-browser']) {
    const found = await run('sh', ['-c', `command -v ${name}`]).then((r) => r.stdout.trim(), () => '');
    if (found) return found;
  }
  return undefined;
}

/**
 * Counts, in the live page, the marks of each layer that the browser laid out with a non-empty box, and
 * writes the counts into the DOM, which --dump-dom then prints.
 */
const PROBE_SCRIPT = `<script>
  const counts = {};
  for (const group of document.querySelectorAll('g.role-mark')) {
    const layer = [...group.classList].find((c) => c.endsWith('_marks'));
    const chart = group.closest('figure').dataset.chart;
    const drawn = [...group.querySelectorAll('[role="graphics-symbol"]')].filter((e) => {
      const box = e.getBoundingClientRect();
      return box.width > 0 || box.height > 0;
    });
    counts[chart + '/' + layer] = drawn.length;
  }
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(counts);
  document.body.append(pre);
</script>`;

async function browserMarkCounts(browser: string, page: string): Promise<Record<string, number>> {
  const probe = path.join(path.dirname(page), 'probe.html');
  await writeFile(probe, (await readFile(page, 'utf8')).replace('</body>', `${PROBE_SCRIPT}</body>`));
  const { stdout } = await run(browser, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--virtual-time-budget=5000', '--dump-dom', `file://${probe}`], { timeout: 60_000, maxBuffer: 64 << 20 });
  const json = /<pre id="probe">(.*?)<\/pre>/s.exec(stdout);
  assert.ok(json, 'the probe script did not run in the browser');
  return JSON.parse(json[1]!.replaceAll('&quot;', '"'));
}

async function screenshot(browser: string, page: string, file: string): Promise<void> {
  await run(browser, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--hide-scrollbars', `--screenshot=${file}`, '--window-size=1200,2600', `file://${page}`], { timeout: 60_000 });
}

describe('HTML reports', () => {
  let db: TestPostgres;
  let dir: string;
  let browser: string | undefined;

  before(async () => {
    db = await startTestPostgres();
    dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-report-'));
    const dataset = await registerDataset(db.pool, { name: 'stream', root: dir, format: syntheticFormat(2, 4) });
    await db.pool.query(
      `INSERT INTO samples (dataset_id, sample_key, file_id, index_in_file, label, ts)
       SELECT $1, k, 1, k - 1, k % 4, $2 + ((k - 1) / $3) * $4 + ((k - 1) % $3) * ($4 / $3) FROM generate_series(1, $5::int) k`,
      [dataset.id, START_TS, PER_DAY, DAY, PER_DAY * INTERVALS],
    );
    await seedPipeline(db, dataset.id, 'daily', 0);
    await seedPipeline(db, dataset.id, 'daily-worse', 0.1);
    browser = await chromium();
  });

  after(async () => {
    await db?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads the composite model and the figures from the database', async () => {
    const data = await loadPipelineReport(db.pool, 'daily');
    assert.deepEqual(data.composite.map((p) => p.activeModel), [null, 0, 1, 1, 3]);
    assert.deepEqual(data.intervals.map((i) => i.minTs), [0, 1, 2, 3, 4].map((d) => START_TS + d * DAY));
    assert.equal(data.figures.cost.triggers, TRIGGERS);
    assert.equal(data.figures.cost.samplesTrained, TRAINED.length * PER_DAY);
    assert.equal(data.figures.cost.samplesProcessed, TRAINED.length * 2 * PER_DAY, 'two epochs');
    assert.equal(data.figures.cost.evaluationSeconds, TRAINED.length * 0.25, 'the evaluation calls\' time, a retry\'s added');
    assert.ok(data.figures.forwardTransfer !== null, 'forward transfer from the spec’s classes');
    await assert.rejects(loadPipelineReport(db.pool, 'nope'), /no pipeline named "nope"/);
  });

  it('writes a self-contained page with the charts inline and PNG copies next to it', async () => {
    const out = path.join(dir, 'daily');
    const written = await writePipelineReport(await loadPipelineReport(db.pool, 'daily'), out);
    const html = await readFile(written.page, 'utf8');

    assert.equal(markCount(html, 'cells'), TRAINED.length * INTERVALS);
    assert.equal(markCount(html, 'composite'), INTERVALS - 1, 'one outlined cell per interval with a serving model');
    assert.equal(markCount(html, 'trigger_rules'), TRIGGERS);
    assert.equal(markCount(html, 'trigger_labels'), TRIGGERS);
    assert.equal(markCount(html, 'composite_points'), INTERVALS - 1 + TRAINED.length);
    assert.equal(markCount(html, 'cost_seconds'), TRIGGERS);
    assert.equal(markCount(html, 'cost_samples'), TRIGGERS);

    assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'no script and no network reference');
    assert.match(html, /drift &#60;script&#62;alert\(&#34;x&#34;\)&#60;\/script&#62; &#38; more/, 'the reason escaped in the triggers table');
    assert.match(html, /<title>[^<]*drift &lt;script&gt;/, 'the reason escaped in the rule’s tooltip');

    assert.equal(written.pngs.length, 3);
    for (const png of written.pngs) {
      const { width, height, format } = await sharp(png).metadata();
      assert.equal(format, 'png');
      assert.ok(width! > 300 && height! > 150, `${path.basename(png)} is ${width}×${height}`);
    }
  });

  it('compares pipelines side by side', async () => {
    const pipelines = await Promise.all(['daily', 'daily-worse'].map((name) => loadPipelineReport(db.pool, name)));
    const written = await writeComparisonReport(pipelines, path.join(dir, 'compare'));
    const html = await readFile(written.page, 'utf8');
    assert.equal(markCount(html, 'composite_line'), 2, 'one line per pipeline');
    assert.equal(markCount(html, 'accuracy_triggers'), 2, 'one point per pipeline against its triggers');
    assert.equal(markCount(html, 'accuracy_seconds'), 2, 'one point per pipeline against its training seconds');
    assert.equal((html.match(/<tr><td class="text">/g) ?? []).length, 2, 'a figures row per pipeline');
    assert.equal(written.pngs.length, 2);
  });

  it('plots accuracy against cost from the shared evaluation in sample time when every pipeline has one', async () => {
    const pipelines = await Promise.all(['daily', 'daily-worse'].map((name) => loadPipelineReport(db.pool, name)));
    const accuracies = (spec: ReturnType<typeof accuracyVsCostSpec>) =>
      ((spec.data as { values: { accuracy: number | null }[] }).values).map((p) => p.accuracy);
    assert.deepEqual(accuracies(accuracyVsCostSpec(pipelines)), pipelines.map((p) => p.figures.meanCompositeAccuracy), 'no plans: the trigger intervals');

    const plan: PlanReport = {
      name: '', strategy: { kind: 'slicing', every: '1d' }, models: 'active', dataset: 'stream', heldOut: true,
      intervals: [], cells: [], composite: [], meanCompositeAccuracy: null,
    };
    const shared = [0.61, 0.52];
    const withPlans = pipelines.map((p, i) => ({ ...p, plans: [{ ...plan, name: `${p.name}/after-pipeline-0`, meanCompositeAccuracy: shared[i]! }] }));
    assert.deepEqual(accuracies(accuracyVsCostSpec(withPlans)), shared);
    const oneMissing = [withPlans[0]!, pipelines[1]!];
    assert.deepEqual(accuracies(accuracyVsCostSpec(oneMissing)), [pipelines[0]!.figures.meanCompositeAccuracy, pipelines[1]!.figures.meanCompositeAccuracy], 'one without: all from trigger intervals');
  });

  it('colours an experiment’s pipelines by variant, its name titling the legend', async () => {
    const [daily, worse] = await Promise.all(['daily', 'daily-worse'].map((name) => loadPipelineReport(db.pool, name)));
    const runs = [{ ...daily!, name: 'exp/a/seed-1' }, { ...daily!, name: 'exp/a/seed-2' }, { ...worse!, name: 'exp/b/seed-1' }];
    const spec = accuracyVsCostSpec(runs) as { data: { values: { variant: string }[] }; hconcat: { encoding: { color: { legend: { title: string | null } } } }[] };
    assert.deepEqual(spec.data.values.map((p) => p.variant), ['a', 'a', 'b']);
    assert.equal(spec.hconcat[0]!.encoding.color.legend.title, 'exp');
    const html = await readFile((await writeComparisonReport(runs, path.join(dir, 'compare-variants'))).page, 'utf8');
    assert.equal(markCount(html, 'accuracy_triggers'), 3, 'one point per pipeline, seeds included');
    // The over-time chart colours alike, and still draws one line per pipeline.
    const overTime = compareOverTimeSpec(runs) as { data: { values: { pipeline: string; variant: string }[] }; layer: { encoding: { color: unknown; detail?: unknown } }[] };
    assert.deepEqual(overTime.layer[0]!.encoding.color, spec.hconcat[0]!.encoding.color);
    assert.deepEqual([...new Set(overTime.data.values.map((p) => `${p.pipeline} ${p.variant}`))], ['exp/a/seed-1 a', 'exp/a/seed-2 a', 'exp/b/seed-1 b']);
    assert.equal(markCount(html, 'composite_line'), 3, 'one line per pipeline, seeds included');
  });

  it('renders the charts in a real browser', async (t) => {
    if (!browser) {
      t.skip('no chromium on PATH: the browser check is skipped (apt-get install chromium)');
      return;
    }
    const out = path.join(dir, 'browser');
    const { page } = await writePipelineReport(await loadPipelineReport(db.pool, 'daily'), out);
    const counts = await browserMarkCounts(browser, page);
    assert.equal(counts['heatmap/cells_marks'], TRAINED.length * INTERVALS);
    assert.equal(counts['heatmap/composite_marks'], INTERVALS - 1);
    assert.equal(counts['over-time/trigger_rules_marks'], TRIGGERS);
    assert.equal(counts['over-time/composite_points_marks'], INTERVALS - 1 + TRAINED.length);
    assert.equal(counts['cost/cost_seconds_marks'], TRIGGERS);

    const shot = path.join(out, 'screenshot.png');
    await screenshot(browser, page, shot);
    const stats = await sharp(shot).stats();
    assert.ok(!stats.isOpaque || stats.channels.some((c) => c.stdev > 10), 'the screenshot is not blank');
    if (process.env.TIDELINE_KEEP_SCREENSHOT) await copyFile(shot, process.env.TIDELINE_KEEP_SCREENSHOT);
  });
});
