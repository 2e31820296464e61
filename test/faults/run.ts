/**
 * The full fault suite: `npm run test:faults -- [--seed N] [--gpu-kills N] [--control-kills N] [--server-kills N]
 * [--only gpu,control,control-selection,server,postgres,disk] [--keep]`. Each scenario runs pipelines under its faults on one stack
 * and checks each against an uninterrupted run of the same spec and seed (scenario.ts); a report of what was
 * injected and what held is printed, and the exit code is non-zero if anything failed. `--keep` leaves the
 * stack's folder (worker logs) in place.
 */
import { ingestFiles } from '../../lib/data/ingest.js';
import { parseArgs } from 'node:util';
import { diskFull } from './disk-full.js';
import { controlKills, gpuKills, serverKills } from './kills.js';
import { postgresKills } from './postgres-kills.js';
import { controlKillInSelection } from './control-kill-selection.js';
import { referenceRun, type ScenarioResult } from './scenario.js';
import { startWorld, type FaultWorld } from './world.js';

const SCENARIOS = ['gpu', 'control', 'control-selection', 'server', 'postgres', 'disk'] as const;
type Scenario = (typeof SCENARIOS)[number];
/** Room for every model and checkpoint of the suite's pipelines, small enough to fill in a few ms. */
const STORE_BYTES = 24 << 20;

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    'gpu-kills': { type: 'string', default: '20' },
    'control-kills': { type: 'string', default: '3' },
    'server-kills': { type: 'string', default: '3' },
    only: { type: 'string', default: SCENARIOS.join(',') },
    keep: { type: 'boolean', default: false },
  },
});
const integer = (flag: 'seed' | 'gpu-kills' | 'control-kills' | 'server-kills') => {
  const n = Number(values[flag]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${flag}: "${values[flag]}" is not a non-negative integer`);
  return n;
};
const seed = integer('seed');
const only = values.only!.split(',') as Scenario[];
for (const s of only) if (!SCENARIOS.includes(s)) throw new Error(`--only: "${s}" is not one of ${SCENARIOS.join(', ')}`);

const started = Date.now();
const results: ScenarioResult[] = [];
const failures: string[] = [];
const skipped: string[] = [];
let world: FaultWorld;
try {
  world = await startWorld({ storeBytes: only.includes('disk') ? STORE_BYTES : undefined });
} catch (err) {
  if (!only.includes('disk')) throw err;
  skipped.push(`disk: ${(err as Error).message}`);
  world = await startWorld();
}
console.log(`Fault suite, seed ${seed}, stack in ${world.root}`);
const scenarios: [Scenario, () => Promise<ScenarioResult>][] = [
  ['gpu', () => gpuKills(world, seed, integer('gpu-kills'))],
  ['control', () => controlKills(world, seed, integer('control-kills'))],
  ['control-selection', () => controlKillInSelection(world, seed)],
  ['server', () => serverKills(world, seed, integer('server-kills'))],
  ['postgres', () => postgresKills(world, seed)],
  ['disk', () => diskFull(world, seed)],
];
try {
  const { dataset, files } = await world.addDataset('faults');
  await ingestFiles(world.postgres.pool, dataset, files);
  await referenceRun(world, 'faults', seed);
  for (const [scenario, run] of scenarios) {
    if (!only.includes(scenario) || skipped.some((s) => s.startsWith(`${scenario}:`))) continue;
    console.log(`\n${scenario}…`);
    try {
      const result = await run();
      results.push(result);
      print(result);
    } catch (err) {
      failures.push(`${scenario}: ${(err as Error).stack ?? err}`);
      console.log(`  FAILED: ${(err as Error).message}`);
    }
  }
} finally {
  if (values.keep) console.log(`\nKept ${world.root} (worker logs: control.log, gpu.log)`);
  await world.close({ keep: values.keep });
}

console.log(`\nSummary (${((Date.now() - started) / 1000).toFixed(0)} s):`);
for (const r of results) {
  const kinds = new Map<string, number>();
  for (const i of r.injected) kinds.set(i.kind.replace(/, down .*/, ''), (kinds.get(i.kind.replace(/, down .*/, '')) ?? 0) + 1);
  console.log(`  ${r.name}: ${[...kinds].map(([k, n]) => `${n}× ${k}`).join(', ')} in ${r.seconds.toFixed(0)} s; held: ${r.held.join('; ')}`);
}
for (const s of skipped) console.log(`  skipped ${s}`);
for (const f of failures) console.log(`  FAILED ${f}`);
process.exitCode = failures.length > 0 ? 1 : 0;

/** Where faults hit, counted by stage: the numbers the README reports. */
function whereTheyHit(r: ScenarioResult): string {
  const stages: [string, (i: ScenarioResult['injected'][number]) => boolean][] = [
    ['selection', (i) => /: selecting|mid-selection/.test(i.observed)],
    ['training right after a checkpoint', (i) => /training, checkpoint/.test(i.observed) && !/ ms$/.test(i.planned)],
    ['training between checkpoints', (i) => /training, checkpoint/.test(i.observed) && / ms$/.test(i.planned)],
    ['end of training', (i) => /final state written/.test(i.observed)],
    ['storing', (i) => /: storing/.test(i.observed)],
    ['evaluation', (i) => /evaluating|mid-evaluation/.test(i.observed)],
    ['ingestion', (i) => /mid-ingest/.test(i.observed)],
  ];
  return stages.map(([stage, hit]) => [stage, r.injected.filter(hit).length] as const).filter(([, n]) => n > 0).map(([stage, n]) => `${stage} ${n}`).join(', ');
}

function print(r: ScenarioResult) {
  for (const i of r.injected) console.log(`  ${i.kind} at ${i.observed}${i.late ? ` (planned at ${i.planned}; passed before it was seen)` : ''}`);
  for (const n of r.notes) console.log(`  note: ${n}`);
  const retries = Object.entries(r.retries).map(([type, n]) => `${type} ${n}`).join(', ');
  console.log(`  where they hit: ${whereTheyHit(r)}`);
  console.log(`  activity attempts the faults cost: ${retries || 'none'}`);
  for (const h of r.held) console.log(`  held: ${h}`);
  console.log(`  ${r.seconds.toFixed(0)} s`);
}
