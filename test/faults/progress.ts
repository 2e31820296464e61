import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Position } from './pipeline-run.js';
import { DATA } from './world.js';

/**
 * Where in a pipeline a fault lands, in the order a pipeline gets there: a trigger's selection, its training
 * (at a step count: a checkpoint of it on disk), the end of its training (final state written, the model not
 * stored yet), storing, evaluation. Trigger `DATA.triggers` stands for the evaluation of the data after the last one.
 */
export type Phase = 'selecting' | 'training' | 'trained' | 'storing' | 'evaluating';
export const PHASES: readonly Phase[] = ['selecting', 'training', 'trained', 'storing', 'evaluating'];

export interface Point {
  trigger: number;
  phase: Phase;
  /** In training: the checkpoint (its step count) the point is at or after. */
  steps?: number;
}

/** What the status query says, as a Point; undefined for what no point refers to (registering, catching up). */
export function pointOf(at: Position): Point | 'done' | undefined {
  if ('triggerId' in at) {
    const phase = at.stage === 'starting' ? 'selecting' : (at.stage as Phase);
    return PHASES.includes(phase) ? { trigger: at.triggerId, phase } : undefined;
  }
  if (at.other === 'evaluating the data after the last trigger') return { trigger: DATA.triggers, phase: 'evaluating' };
  return at.other === 'done' || at.other === 'waiting for data' ? 'done' : undefined;
}

/** Orders points as a pipeline reaches them: negative when `a` comes first. */
export function comparePoints(a: Point, b: Point): number {
  return a.trigger - b.trigger || PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase) || (a.steps ?? 0) - (b.steps ?? 0);
}

/** A training run's scratch folder in the store: its checkpoints, then its final state. */
export function runDir(storeDir: string, pipelineId: number, trigger: number): string {
  return join(storeDir, 'runs', String(pipelineId), `trigger-${trigger}`);
}

/** Training progress on disk: the newest checkpoint's step count (0: none yet) and whether the final state is written. */
export async function trainingOnDisk(dir: string): Promise<{ steps: number; final: boolean }> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const steps = Math.max(0, ...names.map((n) => Number(/^ckpt-(\d+)\.state$/.exec(n)?.[1] ?? 0)));
  return { steps, final: names.includes('final.state') };
}

/** A point as the report says it. */
export function describePoint(p: Point): string {
  if (p.trigger === DATA.triggers) return 'evaluating the data after the last trigger';
  if (p.phase === 'training') return `trigger ${p.trigger}: training${p.steps === undefined ? '' : `, checkpoint ${p.steps} on disk`}`;
  if (p.phase === 'trained') return `trigger ${p.trigger}: final state written, model not stored yet`;
  return `trigger ${p.trigger}: ${p.phase}`;
}
