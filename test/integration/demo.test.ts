import assert from 'node:assert/strict';
import { access, mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { embeddedEnv, tide, within } from '../helpers/cli.js';

/** The showcase runs in about a minute on 2 cores; a loaded CI machine gets room. */
const DEMO_MS = 420_000;

describe('npm start (tide demo) from a fresh state folder', () => {
  let home: string | undefined;

  after(async () => {
    if (!home) return;
    // As root, PostgreSQL's data was placed outside the mode-700 temp folder, linked from <home>/postgres.
    await rm(await realpath(join(home, 'postgres')).catch(() => home!), { recursive: true, force: true });
    await rm(join(home, '..'), { recursive: true, force: true });
  });

  it('runs the three policies of experiments/showcase.yaml, prints their comparison and the report, and exits 0', async () => {
    home = join(await mkdtemp(join(tmpdir(), 'tideline-demo-')), '.tideline');
    const demo = tide(['demo'], embeddedEnv(home));
    const exit = await within('tide demo', demo.exited, DEMO_MS, demo.output);
    const output = demo.output();
    assert.deepEqual(exit, { code: 0, signal: null }, output);

    const rows = new Map([...output.matchAll(/^(every-day|drift|drift-half-data) +(\d+) +(\d+) +(0\.\d{4})$/gm)].map((m) => [m[1], {
      triggers: Number(m[2]), samples: Number(m[3]), accuracy: Number(m[4]),
    }]));
    assert.equal(rows.size, 3, output);
    // One trigger per day after the first; each trains on its day's 1,250 digits less the held-out ones.
    assert.equal(rows.get('every-day')!.triggers, 7);
    assert.equal(rows.get('every-day')!.samples, 7423);
    for (const variant of ['drift', 'drift-half-data']) assert.ok(rows.get(variant)!.triggers < 7, `${variant} retrains less often`);
    assert.ok(rows.get('drift-half-data')!.samples <= 0.55 * 7423, 'half of the new data, or less');
    for (const row of rows.values()) assert.ok(row.accuracy > 0.5 && row.accuracy < 1, output);

    const report = /Report with charts \(open in a browser\): (.+index\.html)$/m.exec(output)?.[1];
    assert.ok(report, output);
    await access(report);
    assert.match(output, /Temporal Web UI \(while the stack runs\): http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/showcase-run1/);
  });
});
