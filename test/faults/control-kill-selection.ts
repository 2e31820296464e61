import assert from 'node:assert/strict';
import { trainingSamplesTable } from '../../lib/data/selection.js';
import type { PipelineStatus } from '../../workflows/messages.js';
import { position } from './pipeline-run.js';
import { blockedAt, gate } from './postgres-kills.js';
import { faultedRun, type ScenarioResult } from './scenario.js';
import type { FaultWorld } from './world.js';

/** A retried cpu activity must start within its heartbeat timeout (30 s), plus the worker's restart and a margin. */
const RESUMED_WITHIN_S = 90;

/**
 * The control worker SIGKILLed inside a cpu activity: trigger 1's selection is held mid-transaction (its
 * training-set partition locked by the test, as in postgres-kills.ts), the worker is killed and restarted, and
 * the lock released; the dead worker's transaction then rolls back. The selection must be retried within the cpu
 * activities' heartbeat timeout rather than the 10-minute start-to-close timeout, and the pipeline end as an
 * uninterrupted run does.
 */
export async function controlKillInSelection(world: FaultWorld, seed: number): Promise<ScenarioResult> {
  const notes: string[] = [];
  const injected: ScenarioResult['injected'] = [];
  let step: 'arm' | 'kill' | 'resume' | 'done' = 'arm';
  let killedAt = 0;
  const watch = async (status: PipelineStatus | undefined) => {
    const at = status && position(status.current);
    if (!at || status.pipelineId === undefined || !('triggerId' in at)) return;
    if (step === 'arm' && at.triggerId === 0 && at.stage === 'training') {
      const held = await gate(world, trainingSamplesTable(status.pipelineId));
      await blockedAt(world, 'DELETE FROM training_samples');
      await world.control.restart();
      killedAt = Date.now();
      await held.end();
      injected.push({
        kind: 'control worker SIGKILLed', planned: 'inside trigger 1\'s selection transaction',
        observed: 'inside trigger 1\'s selection transaction (the training set being written); restarted at once', late: false,
      });
      step = 'resume';
    } else if (step === 'resume' && (at.triggerId > 1 || at.stage !== 'selecting')) {
      const seconds = (Date.now() - killedAt) / 1000;
      assert.ok(seconds < RESUMED_WITHIN_S, `the selection was retried ${seconds.toFixed(0)} s after the kill`);
      notes.push(`the selection was retried and done ${seconds.toFixed(1)} s after the kill`);
      step = 'done';
    }
  };
  const result = await faultedRun(world, { name: 'control-kill-selection', dataset: 'faults', seed, watch });
  assert.equal(step, 'done', `the fault stopped at ${step}`);
  return { ...result, injected, notes };
}
