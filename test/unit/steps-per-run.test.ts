/** The automatic choice of K (optimizer steps per session run) from timed runs. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseStepsPerRun, KEEP_IF_FASTER, MAX_RUN_BYTES, MIN_PHASE_MS, MAX_STEPS_PER_RUN, SEQUENTIAL_TARGET_RUN_MS, StepsPerRunProbe, TARGET_RUN_MS } from '../../lib/train/steps-per-run.js';

const SMALL = 64 * 784 * 4;

describe('chooseStepsPerRun', () => {
  it('aims at runs of TARGET_RUN_MS', () => {
    assert.equal(chooseStepsPerRun(TARGET_RUN_MS / 10, SMALL), 10);
    assert.equal(chooseStepsPerRun(TARGET_RUN_MS / 2.5, SMALL), 2);
    assert.equal(chooseStepsPerRun(0.8, SMALL), Math.floor(TARGET_RUN_MS / 0.8));
    assert.equal(chooseStepsPerRun(5.6, SMALL, SEQUENTIAL_TARGET_RUN_MS), Math.floor(SEQUENTIAL_TARGET_RUN_MS / 5.6));
  });

  it('runs steps as long as a run singly', () => {
    assert.equal(chooseStepsPerRun(TARGET_RUN_MS, SMALL), 1);
    assert.equal(chooseStepsPerRun(TARGET_RUN_MS * 0.6, SMALL), 1);
    assert.equal(chooseStepsPerRun(70, SMALL), 1);
  });

  it('stays within MAX_STEPS_PER_RUN and MAX_RUN_BYTES of stacked batches', () => {
    assert.equal(chooseStepsPerRun(0.001, SMALL), MAX_STEPS_PER_RUN);
    assert.equal(chooseStepsPerRun(0, SMALL), MAX_STEPS_PER_RUN);
    assert.equal(chooseStepsPerRun(0.001, MAX_RUN_BYTES / 5), 5);
    assert.equal(chooseStepsPerRun(0.001, MAX_RUN_BYTES * 2), 1);
  });
});

describe('StepsPerRunProbe', () => {
  /** A step time that makes K 8. */
  const STEP = TARGET_RUN_MS / 8;
  /** Runs that fill a phase at STEP a step: 3 that only mark time, then MIN_PHASE_MS of steps. */
  const PHASE = 3 + Math.ceil(MIN_PHASE_MS / STEP);

  /** Runs of `steps` steps finishing `perStep` ms a step apart, after `start`; returns the last one's time. */
  function runs(probe: StepsPerRunProbe, count: number, steps: number, perStep: number, start = 0): number {
    let at = start;
    for (let i = 0; i < count; i++) probe.finished(at += perStep * steps, steps);
    return at;
  }

  it('times single steps for MIN_PHASE_MS, skipping the first ones, then tries K and keeps it when a step is faster', () => {
    const probe = new StepsPerRunProbe(0, SMALL, true);
    assert.equal(probe.stepsPerRun, 1);
    let at = runs(probe, 1, 1, 50);
    at = runs(probe, PHASE - 2, 1, STEP, at);
    assert.equal(probe.stepsPerRun, 1, 'one step short of MIN_PHASE_MS');
    at = runs(probe, 1, 1, STEP, at);
    assert.equal(probe.stepsPerRun, 8, 'K on trial');
    assert.equal(probe.settled, false);
    // Single steps still in flight, then the first run of 8 after the session's creation, then runs of 8.
    at = runs(probe, 2, 1, STEP, at);
    at = runs(probe, 1, 8, 5, at);
    runs(probe, Math.ceil(PHASE / 4), 8, STEP / 2, at);
    assert.equal(probe.settled, true);
    assert.equal(probe.stepsPerRun, 8);
  });

  it('goes back to single steps when runs of K are not clearly faster', () => {
    const probe = new StepsPerRunProbe(0, SMALL, true);
    const at = runs(probe, PHASE, 1, STEP);
    assert.equal(probe.stepsPerRun, 8);
    runs(probe, PHASE, 8, STEP * (KEEP_IF_FASTER + 0.02), at);
    assert.equal(probe.settled, true);
    assert.equal(probe.stepsPerRun, 1);
  });

  it('averages over the phase, so completions seen in bursts time right', () => {
    const probe = new StepsPerRunProbe(0, SMALL, true);
    let at = 0;
    probe.finished(at += 1, 1);
    probe.finished(at += 1, 1);
    for (let i = 0; i < PHASE; i++) probe.finished(at += (i % 2 ? 0.2 : 1.8) * STEP, 1);
    assert.equal(probe.stepsPerRun, 8);
  });

  it('counts the steps of runs cut short', () => {
    const probe = new StepsPerRunProbe(0, SMALL, true);
    let at = runs(probe, PHASE, 1, STEP);
    // Runs of 8 and of 2 (cut short by checkpoints), at half a single step's time a step.
    for (let i = 0; i < PHASE; i++) at = runs(probe, 1, i % 2 ? 2 : 8, STEP / 2, at);
    assert.equal(probe.stepsPerRun, 8);
    assert.equal(probe.settled, true);
  });

  it('runs single steps as long as creating a session took before trying K > 1', () => {
    const probe = new StepsPerRunProbe(4 * MIN_PHASE_MS, SMALL, true);
    let at = runs(probe, PHASE, 1, STEP);
    assert.equal(probe.stepsPerRun, 1, 'MIN_PHASE_MS of steps do not repay a session that took 4 times as long');
    let count = PHASE;
    while (probe.stepsPerRun === 1) {
      at = runs(probe, 1, 1, STEP, at);
      count++;
    }
    assert.equal(probe.stepsPerRun, 8);
    assert.equal(count, 3 + (4 * MIN_PHASE_MS) / STEP, 'that long of steps after the 3 that only mark time');
  });

  it('settles on 1 as soon as the steps are long, without waiting', () => {
    const probe = new StepsPerRunProbe(1_000, SMALL, true);
    runs(probe, 11, 1, TARGET_RUN_MS * 0.8);
    assert.equal(probe.settled, true);
    assert.equal(probe.stepsPerRun, 1);
  });

  it('keeps K untried when runs of K need no other graph (host tables: K single steps a request), aiming at longer runs', () => {
    const probe = new StepsPerRunProbe(0, SMALL, false);
    runs(probe, PHASE - 1, 1, STEP);
    assert.equal(probe.settled, false);
    runs(probe, 1, 1, STEP, (PHASE - 1) * STEP);
    assert.equal(probe.settled, true);
    assert.equal(probe.stepsPerRun, chooseStepsPerRun(STEP, SMALL, SEQUENTIAL_TARGET_RUN_MS));
    const mid = new StepsPerRunProbe(0, SMALL, false);
    runs(mid, 11, 1, SEQUENTIAL_TARGET_RUN_MS / 4);
    assert.equal(mid.stepsPerRun, 4, 'a step longer than TARGET_RUN_MS, four to a request');
    const long = new StepsPerRunProbe(0, SMALL, false);
    runs(long, 11, 1, SEQUENTIAL_TARGET_RUN_MS * 0.8);
    assert.equal(long.stepsPerRun, 1, 'long steps still run singly');
  });

  it('keeps its decision: later runs change nothing', () => {
    const probe = new StepsPerRunProbe(0, SMALL, true);
    let at = runs(probe, PHASE, 1, STEP);
    at = runs(probe, PHASE, 8, STEP / 4, at);
    assert.equal(probe.stepsPerRun, 8);
    assert.equal(probe.settled, true);
    runs(probe, 20, 8, STEP * 10, at);
    assert.equal(probe.stepsPerRun, 8);
  });
});
