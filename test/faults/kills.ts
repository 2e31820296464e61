import { createRng } from '../../lib/rng.js';
import type { Fault, Planned } from './driver.js';
import { controlWorkerKill, devServerKill, gpuWorkerKill } from './faults.js';
import { faultedRun, type ScenarioResult } from './scenario.js';
import { oncePerTrigger, seededPoints } from './schedule.js';
import type { FaultWorld } from './world.js';

/** Runs one faulted pipeline per round of planned faults and sums up what they did and what held. */
async function rounds(world: FaultWorld, name: string, seed: number, plans: Planned[][]): Promise<ScenarioResult> {
  const total: ScenarioResult = { name, injected: [], seconds: 0, held: [], notes: [], retries: {} };
  for (const [round, planned] of plans.entries()) {
    const result = await faultedRun(world, { name: plans.length > 1 ? `${name}-${round}` : name, dataset: 'faults', seed, planned });
    total.injected.push(...result.injected);
    total.seconds += result.seconds;
    total.held.push(...result.held.map((h) => (plans.length > 1 ? `run ${round}: ${h}` : h)));
    for (const [type, n] of Object.entries(result.retries)) total.retries[type] = (total.retries[type] ?? 0) + n;
  }
  return total;
}

/**
 * The gpu worker SIGKILLed at `count` seeded points of one pipeline, over every stage of its triggers: selection,
 * training (right after a checkpoint, or between two), the end of training, storing and evaluation.
 */
export function gpuKills(world: FaultWorld, seed: number, count: number): Promise<ScenarioResult> {
  const planned = seededPoints(seed, count).map(({ point, delayMs }) => ({ point, delayMs, fault: gpuWorkerKill(world) }));
  return rounds(world, 'gpu-kills', seed, [planned]);
}

// Each scenario draws from a seed of its own (seed + 1, seed + 2), so that one --seed does not put every kind of
// fault at the same points.

/**
 * The control worker SIGKILLed mid-trigger `count` times, while a trigger trains, at a seeded checkpoint: its
 * workflows are replayed by the restarted worker, which then gets the training's result.
 */
export function controlKills(world: FaultWorld, seed: number, count: number): Promise<ScenarioResult> {
  return rounds(world, 'control-kills', seed, oncePerTrigger(seed + 1, count).map((points) => points.map((point) => ({ point, fault: controlWorkerKill(world) }))));
}

/** The dev server SIGKILLed `count` times mid-training, at seeded checkpoints, and restarted on its SQLite file after 0.5–3 s. */
export function serverKills(world: FaultWorld, seed: number, count: number): Promise<ScenarioResult> {
  const rng = createRng(seed);
  const fault = (): Fault => devServerKill(world, 500 + 100 * rng.int(26));
  return rounds(world, 'server-kills', seed, oncePerTrigger(seed + 2, count).map((points) => points.map((point) => ({ point, fault: fault() }))));
}
