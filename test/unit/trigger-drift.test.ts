import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTriggerPolicy } from '../../policies/triggers/index.js';
import type { MeasureRequest, MeasureResult, SampleWindow } from '../../policies/triggers/protocol.js';
import { batchesOf, drive } from '../helpers/policy-driver.js';
import { triggerSpec as trigger } from '../helpers/trigger-spec.js';

/** Keys after `shiftAt` come from a new concept; a window's "embedding mean" is the share of such keys. */
function conceptShare(window: SampleWindow, shiftAt: number): number {
  let first = window.firstKey;
  if (window.lastSamples !== undefined) first = Math.max(first, window.lastKey - window.lastSamples + 1);
  let shifted = 0;
  for (let k = first; k <= window.lastKey; k++) if (k > shiftAt) shifted++;
  return shifted / (window.lastKey - first + 1);
}

/** A measurement world: each metric scores the difference in concept share between the windows. */
function world(shiftAt: number, flags: Partial<Record<string, boolean>> = {}) {
  return (request: MeasureRequest): MeasureResult => {
    assert.equal(request.kind, 'embeddingDrift');
    if (request.kind !== 'embeddingDrift') throw new Error('unreachable');
    const score = Math.abs(conceptShare(request.current, shiftAt) - conceptShare(request.reference, shiftAt));
    return {
      kind: 'embeddingDrift', referenceCount: 100, currentCount: 100,
      metrics: request.metrics.map((m) => ({ kind: m.kind, score, ...(m.pValue !== undefined && { pValue: score > 0.1 ? 0.001 : 0.5, drift: flags[m.kind] ?? score > 0.1 }) })),
    };
  };
}

describe('data drift trigger', () => {
  const base = { kind: 'dataDrift', every: 100, window: { samples: 200 }, metrics: [{ kind: 'mmd', criterion: { kind: 'threshold', value: 0.1 } }] };

  it('triggers first for lack of a model, then within one interval of a change, never in stable stretches', () => {
    const run = drive(createTriggerPolicy(trigger(base), 7), batchesOf([250, 250, 250, 250]), { measure: world(550) });
    // 1..100: no model. The shift at 550 is seen in the interval ending at 600; after the trigger at 600 the
    // reference (its new data, the last 200 samples of 101..600) still mixes both concepts, so 700 fires once more.
    assert.deepEqual(run.cuts, [100, 600, 700]);
    assert.match(run.reasons[0]!, /no model yet/);
    assert.match(run.reasons[1]!, /drift: mmd/);
    assert.equal(run.evaluations.length, 10);
    assert.deepEqual(run.evaluations.filter((e) => e.triggered).map((e) => e.interval.lastKey), [100, 600, 700]);
    const atShift = run.evaluations.find((e) => e.interval.lastKey === 600)!;
    assert.equal(atShift.thresholds.mmd, 0.1);
    assert.ok(atShift.scores.mmd! > 0.1);
    assert.equal(atShift.request?.kind, 'embeddingDrift');
  });

  it('measures with the model the previous trigger trained, on its training data and the data since', () => {
    const run = drive(createTriggerPolicy(trigger(base), 7), batchesOf([1000]), { measure: world(550) });
    const after600 = run.requests.find((r) => r.kind === 'embeddingDrift' && r.current.lastKey === 700)!;
    assert.ok(after600.kind === 'embeddingDrift');
    assert.equal(after600.modelId, 2);
    assert.deepEqual(after600.reference, { firstKey: 101, lastKey: 600, lastSamples: 200 });
    assert.deepEqual(after600.current, { firstKey: 601, lastKey: 700, lastSamples: 200 });
    assert.equal(after600.seed, 7);
  });

  it('decides the same however the data is batched, carrying leftovers between batches', () => {
    const one = drive(createTriggerPolicy(trigger(base), 7), batchesOf([1000]), { measure: world(550) });
    const many = drive(createTriggerPolicy(trigger(base), 7), batchesOf(Array.from({ length: 40 }, () => 25)), { measure: world(550) });
    assert.deepEqual(one.cuts, many.cuts);
    assert.deepEqual(one.requests, many.requests);
  });

  it('lets the current window reach back before the trigger with allowOverlap', () => {
    const run = drive(createTriggerPolicy(trigger({ ...base, allowOverlap: true }), 7), batchesOf([300]), { measure: world(10_000) });
    const last = run.requests.at(-1)!;
    assert.ok(last.kind === 'embeddingDrift');
    assert.deepEqual(last.current, { firstKey: 1, lastKey: 300, lastSamples: 200 });
  });

  it('takes the corrected test of ks and cvm when they have no criterion, and aggregates votes', () => {
    const spec = { ...base, metrics: [{ kind: 'ks' }, { kind: 'cvm' }, { kind: 'hellinger', criterion: { kind: 'threshold', value: 0.9 } }] };
    // ks and cvm see the shift, hellinger's threshold is out of reach: 2 of 3 is a majority.
    const majority = drive(createTriggerPolicy(trigger(spec), 0), batchesOf([700]), { measure: world(550) });
    assert.deepEqual(majority.cuts, [100, 600, 700]);
    const vote = majority.evaluations.find((e) => e.interval.lastKey === 600)!.votes;
    assert.deepEqual(vote, { ks: true, cvm: true, hellinger: false });
    // With cvm blind to it, 1 of 3 carries no majority but does carry "at least 1".
    const blind = world(550, { cvm: false });
    assert.deepEqual(drive(createTriggerPolicy(trigger(spec), 0), batchesOf([700]), { measure: blind }).cuts, [100]);
    const atLeast = { ...spec, aggregation: { kind: 'atLeast', n: 1 } };
    assert.deepEqual(drive(createTriggerPolicy(trigger(atLeast), 0), batchesOf([700]), { measure: blind }).cuts, [100, 600, 700]);
  });

  it('lets a warm-up policy decide the first evaluations while the scores calibrate a dynamic criterion', () => {
    const spec = {
      ...base,
      metrics: [{ kind: 'mmd', criterion: { kind: 'quantile', window: 5, quantile: 0.1 } }],
      warmup: { evaluations: 4, policy: { kind: 'dataAmount', every: 200 } },
    };
    // Scores that wander within a band, then a jump at the interval ending at 900.
    const scores: Record<number, number> = { 200: 0.03, 300: 0.02, 400: 0.04, 500: 0.03, 600: 0.035, 700: 0.03, 800: 0.036, 900: 0.5, 1000: 0.03 };
    const run = drive(createTriggerPolicy(trigger(spec), 0), batchesOf([1000]), {
      measure: (r) => ({ kind: 'embeddingDrift', referenceCount: 1, currentCount: 1, metrics: [{ kind: 'mmd', score: r.kind === 'embeddingDrift' ? scores[r.current.lastKey]! : 0 }] }),
    });
    // Evaluation 1 (100) has no model; 2–4 (200, 300, 400) follow the warm-up's cuts at 200 and 400; after it the
    // quantile of the last 5 scores decides: only the jump at 900 crosses it.
    assert.deepEqual(run.cuts, [100, 200, 400, 900]);
    assert.match(run.reasons[1]!, /warm-up 2\/4: the dataAmount policy fired/);
    const jump = run.evaluations.find((e) => e.interval.lastKey === 900)!;
    assert.ok(jump.thresholds.mmd! < 0.5 && jump.thresholds.mmd! >= 0.03);
  });
});
