import assert from 'node:assert/strict';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng } from '../../lib/rng.js';
import type { PipelineStatus } from '../../workflows/messages.js';
import { position } from './pipeline-run.js';
import { runDir, trainingOnDisk } from './progress.js';
import { faultedRun, type ScenarioResult } from './scenario.js';
import { DATA, type FaultWorld } from './world.js';

const FAILURE_WAIT_MS = 60_000;

/** Appends `bytes`; false when the file system has no room left for them. */
function append(handle: FileHandle, bytes: Buffer): Promise<boolean> {
  return handle.write(bytes).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOSPC') return false;
    throw err;
  });
}

/**
 * Keeps the store's file system full to the last byte with `file` (shrinking chunks written until each is refused,
 * again every few ms: a process freeing a little, such as checkpoint retention, does not make room) until the
 * returned function is called; it removes `file`.
 */
function keepFull(file: string): () => Promise<void> {
  let full = true;
  const filling = (async () => {
    const handle = await open(file, 'a');
    try {
      while (full) {
        for (let chunk = 1 << 20; chunk >= 512; chunk >>= 2) {
          const bytes = Buffer.alloc(chunk);
          while (await append(handle, bytes)) {
            // until this chunk size no longer fits
          }
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    } finally {
      await handle.close();
    }
  })();
  return async () => {
    full = false;
    await filling;
    await rm(file);
  };
}

/** The failure the trigger's pending `activity` last had, once it has one. */
async function failureOf(world: FaultWorld, triggerWorkflowId: string, activity: string): Promise<{ message: string; attempt: number }> {
  const handle = world.temporal.client.workflow.getHandle(triggerWorkflowId);
  const deadline = Date.now() + FAILURE_WAIT_MS;
  for (;;) {
    const { raw } = await handle.describe();
    const pending = raw.pendingActivities?.find((a) => a.activityType?.name === activity && a.lastFailure?.message);
    if (pending) return { message: pending.lastFailure!.message!, attempt: pending.attempt ?? 0 };
    assert.ok(Date.now() < deadline, `${activity} of ${triggerWorkflowId} did not fail within ${FAILURE_WAIT_MS / 1000} s of the disk filling up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The model store's disk fills up twice: while a trigger trains (its next checkpoint cannot be written), and as a
 * trigger's training ends, the same or a later one (its model cannot be stored). Each time the failing activity must
 * say so clearly (the store, ENOSPC) and stay retryable; once the test frees the space, the pipeline goes on and
 * ends as an uninterrupted run does. Needs `world` with its store on a tmpfs of its own (startWorld's storeBytes).
 */
export async function diskFull(world: FaultWorld, seed: number): Promise<ScenarioResult> {
  const rng = createRng(seed);
  const trainingTrigger = rng.int(DATA.triggers);
  const storingTrigger = trainingTrigger + rng.int(DATA.triggers - trainingTrigger);
  const filler = join(world.storeDir, 'filler');
  const notes: string[] = [];
  const injected: ScenarioResult['injected'] = [];
  const name = 'disk-full';

  /** Fills the disk, waits for `activity` to fail on it, checks the error and frees the space. */
  const fullDisk = async (trigger: number, activity: string, planned: string) => {
    const free = keepFull(filler);
    const failure = await failureOf(world, `${name}/trigger-${trigger}`, activity).finally(free);
    injected.push({ kind: 'model store disk full', planned, observed: `${planned}; ${activity} failed (attempt ${failure.attempt})`, late: false });
    notes.push(`${activity} of trigger ${trigger} on a full disk failed with: ${failure.message}`);
    assert.match(failure.message, /ENOSPC/, `${activity}: the failure names ENOSPC`);
    assert.ok(failure.message.includes(world.storeDir), `${activity}: the failure names the model store ${world.storeDir}: ${failure.message}`);
  };

  let step: 'training' | 'storing' | 'done' = 'training';
  const watch = async (status: PipelineStatus | undefined) => {
    const at = status && position(status.current);
    if (!at || !('triggerId' in at) || status.pipelineId === undefined || at.stage !== 'training') return;
    const disk = await trainingOnDisk(runDir(world.storeDir, status.pipelineId, at.triggerId));
    if (step === 'training' && at.triggerId === trainingTrigger && disk.steps > 0 && !disk.final) {
      await fullDisk(at.triggerId, 'trainModel', `trigger ${at.triggerId}: training, checkpoint ${disk.steps} on disk`);
      step = 'storing';
    } else if (step === 'storing' && at.triggerId === storingTrigger) {
      // The final state is written, the model not yet stored: the disk fills before storeModel writes the model.
      const deadline = Date.now() + FAILURE_WAIT_MS;
      for (const dir = runDir(world.storeDir, status.pipelineId, at.triggerId); !(await trainingOnDisk(dir)).final; ) {
        assert.ok(Date.now() < deadline, `trigger ${at.triggerId} did not finish training`);
        await new Promise((r) => setTimeout(r, 2));
      }
      await fullDisk(at.triggerId, 'storeModel', `trigger ${at.triggerId}: final state written, model not stored yet`);
      step = 'done';
    }
  };
  const result = await faultedRun(world, { name, dataset: 'faults', seed, watch });
  assert.equal(step, 'done', `the disk did not fill up ${step === 'training' ? 'during training' : 'before storing'}`);
  return { ...result, injected, notes };
}
