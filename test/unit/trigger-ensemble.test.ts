import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTriggerPolicy } from '../../policies/triggers/index.js';
import { policyPath } from '../../policies/triggers/members.js';
import type { MeasureRequest, MeasureResult } from '../../policies/triggers/protocol.js';
import { batchesOf, drive } from '../helpers/policy-driver.js';
import { triggerSpec } from '../helpers/trigger-spec.js';

const DAY = 86_400;

describe('ensemble trigger', () => {
  it('counts the members that fired since its last trigger', () => {
    const members = { a: { kind: 'dataAmount', every: 100 }, b: { kind: 'dataAmount', every: 150 } };
    const all = drive(createTriggerPolicy(triggerSpec({ kind: 'ensemble', vote: { kind: 'all' }, members }), 0), batchesOf([600]));
    assert.deepEqual(all.cuts, [150, 300, 450, 600]);
    assert.match(all.reasons[0]!, /2 of 2 members fired \(all needed\): a: 100 samples since the last trigger; b: 150/);
    const any = drive(createTriggerPolicy(triggerSpec({ kind: 'ensemble', vote: { kind: 'any' }, members }), 0), batchesOf([600]));
    assert.deepEqual(any.cuts, [100, 150, 200, 300, 400, 450, 500, 600]);
    const declined = all.evaluations.find((e) => e.interval.lastKey === 100)!;
    assert.deepEqual([declined.triggered, declined.votes], [false, { a: true, b: false }]);
  });

  it('runs model-aware members, routing their measurements and telling them of every model', () => {
    const spec = triggerSpec({
      kind: 'ensemble', vote: { kind: 'any' },
      members: {
        drift: { kind: 'dataDrift', every: 100, window: { samples: 100 }, metrics: [{ kind: 'meanDistance', criterion: { kind: 'threshold', value: 0.5 } }] },
        perf: { kind: 'performance', every: 250, criteria: [{ kind: 'threshold', value: 0.8 }] },
      },
    });
    const measure = (r: MeasureRequest): MeasureResult => {
      if (r.kind === 'performance') return { kind: 'performance', count: 250, correct: 0, accuracy: r.window.lastKey === 750 ? 0.5 : 0.9, macroF1: 0.9 };
      if (r.kind !== 'embeddingDrift') throw new Error(r.kind);
      return { kind: 'embeddingDrift', referenceCount: 1, currentCount: 1, metrics: [{ kind: 'meanDistance', score: r.current.lastKey === 400 ? 1 : 0 }] };
    };
    const run = drive(createTriggerPolicy(spec, 0), batchesOf([1000]), { measure });
    // Drift fires first for lack of a model (100); perf waits until it knows whether drift triggers before 250, so it
    // measures that model instead of firing for lack of one. Drift then sees drift at 400, perf a drop at 750.
    assert.deepEqual(run.cuts, [100, 400, 750]);
    const order = run.requests.map((r) => (r.kind === 'performance' ? `p${r.window.lastKey}` : r.kind === 'embeddingDrift' ? `d${r.current.lastKey}` : ''));
    assert.deepEqual(order.slice(0, 4), ['d200', 'p250', 'd300', 'd400']);
    const tags = new Set(run.commands.filter((c) => c.kind === 'measure').map((c) => c.kind === 'measure' && c.tag));
    assert.deepEqual([...tags].sort(), ['drift', 'perf']);
    // Every member measures with the newest model, whoever caused its trigger.
    const perfAfter = run.requests.find((r) => r.kind === 'performance' && r.window.lastKey === 500)!;
    assert.ok(perfAfter.kind === 'performance' && perfAfter.modelId === 2);
    assert.ok(run.evaluations.some((e) => e.policy === 'members.drift'));
    assert.ok(run.evaluations.some((e) => e.policy === 'members.perf'));
  });

  it('nests, with members of any kind, splits routed to the member that asked', () => {
    const spec = triggerSpec({
      kind: 'ensemble', vote: { kind: 'any' },
      members: {
        inner: { kind: 'ensemble', vote: { kind: 'all' }, members: { n: { kind: 'dataAmount', every: 3 }, t: { kind: 'time', every: '1d' } } },
        big: { kind: 'dataAmount', every: 10 },
      },
    });
    const ts = Array.from({ length: 12 }, (_, i) => Math.floor(i / 2) * DAY);
    const run = drive(createTriggerPolicy(spec, 0), batchesOf([12], ts), { timestamps: ts });
    const splits = run.commands.filter((c) => c.kind === 'split');
    assert.ok(splits.length > 0 && splits.every((c) => c.kind === 'split' && c.tag === 'inner/t'));
    // Two samples a day. inner: n fires at 3, 6, 9, 12 and t before each new day (2, 4, 6, 8, 10); both have fired
    // since inner's last trigger at 3, 6, 9 and 12. big fires at 10.
    assert.deepEqual(run.cuts, [3, 6, 9, 10, 12]);
    assert.equal(policyPath(spec, 'inner/t'), 'trigger.members.inner.members.t');
  });

  it('refuses a vote that more members than it has must carry, and names the field', () => {
    assert.throws(
      () => triggerSpec({ kind: 'ensemble', vote: { kind: 'atLeast', n: 3 }, members: { a: { kind: 'dataAmount', every: 1 } } }),
      /trigger\.vote\.n: 3 exceeds the 1 members/,
    );
  });
});
