import { createRng } from '../../lib/rng.js';
import { comparePoints, type Phase, type Point } from './progress.js';
import { CHECKPOINTS, DATA } from './world.js';

/**
 * Kinds of fault points: a training point is right after a checkpoint, or between two (some ms after one);
 * the others are the trigger's stages (see Point).
 */
export type Family = 'selecting' | 'checkpoint' | 'between checkpoints' | 'trained' | 'storing' | 'evaluating';
export const FAMILIES: readonly Family[] = ['selecting', 'checkpoint', 'between checkpoints', 'trained', 'storing', 'evaluating'];

export interface SeededPoint {
  family: Family;
  point: Point;
  delayMs?: number;
}

/**
 * `count` distinct points drawn with `seed`: a family uniformly among `families` that has points left, then one
 * of its points uniformly. A trigger's training points have distinct checkpoints; a stage is hit once per trigger
 * (the evaluation of the data after the last trigger counts as a trigger's), and none is one of `taken`. Returned in
 * pipeline order.
 */
export function seededPoints(seed: number, count: number, families: readonly Family[] = FAMILIES, taken: readonly Point[] = []): SeededPoint[] {
  const rng = createRng(seed);
  const free = new Map<Family, SeededPoint[]>();
  const stage = (family: Family, phase: Phase, triggers: number) =>
    free.set(family, Array.from({ length: triggers }, (_, trigger) => ({ family, point: { trigger, phase } })));
  for (const family of families) {
    if (family === 'checkpoint' || family === 'between checkpoints') {
      free.set(family, Array.from({ length: DATA.triggers }, (_, trigger) => CHECKPOINTS.map((steps) => ({
        family, point: { trigger, phase: 'training' as const, steps },
      }))).flat());
    } else {
      stage(family, family === 'trained' ? 'trained' : family, DATA.triggers + (family === 'evaluating' ? 1 : 0));
    }
  }
  const clashes = (a: Point, b: Point) => a.trigger === b.trigger && a.phase === b.phase && a.steps === b.steps;
  for (const [family, slots] of free) free.set(family, slots.filter((s) => !taken.some((t) => clashes(t, s.point))));
  const chosen: SeededPoint[] = [];
  while (chosen.length < count) {
    const open = families.filter((f) => free.get(f)!.length > 0);
    if (open.length === 0) throw new Error(`only ${chosen.length} distinct fault points of ${families.join(', ')} exist, ${count} asked`);
    const family = open[rng.int(open.length)]!;
    const slots = free.get(family)!;
    const [slot] = slots.splice(rng.int(slots.length), 1);
    if (family === 'between checkpoints') slot!.delayMs = 10 + rng.int(80);
    chosen.push(slot!);
    // One training point per checkpoint of a trigger: a resumed run does not write again the one it resumed from.
    if (slot!.point.phase === 'training') {
      for (const f of ['checkpoint', 'between checkpoints'] as const) {
        const others = free.get(f);
        if (others) free.set(f, others.filter((s) => !clashes(s.point, slot!.point)));
      }
    }
  }
  return chosen.sort((a, b) => comparePoints(a.point, b.point));
}

/**
 * `count` training points, at most one per trigger and so in rounds (pipeline runs) of up to DATA.triggers: for a
 * fault that takes a worker or the server away for seconds, during which the pipeline may pass its next point.
 */
export function oncePerTrigger(seed: number, count: number): Point[][] {
  const rng = createRng(seed);
  const rounds: Point[][] = [];
  for (let left = count; left > 0; left -= DATA.triggers) {
    const triggers = Array.from({ length: DATA.triggers }, (_, t) => t);
    for (let i = triggers.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [triggers[i], triggers[j]] = [triggers[j]!, triggers[i]!];
    }
    rounds.push(triggers.slice(0, Math.min(left, DATA.triggers)).sort((a, b) => a - b).map((trigger) => ({
      trigger, phase: 'training' as const, steps: CHECKPOINTS[rng.int(CHECKPOINTS.length)]!,
    })));
  }
  return rounds;
}
