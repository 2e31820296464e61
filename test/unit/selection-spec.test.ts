import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fairShares } from '../../policies/selection/fair-shares.js';
import { freshnessShares } from '../../policies/selection/freshness-shares.js';
import { downsamplerFor, selectionPlan, selectionSeed } from '../../policies/selection/plan.js';
import { parseSpec, SpecError, type PipelineSpecInput } from '../../policies/spec.js';

const minimal: PipelineSpecInput = {
  dataset: { name: 'digits' },
  model: { architecture: 'mlp', numClasses: 10 },
  training: { optimizer: { name: 'sgd', lr: 0.05 } },
  trigger: { kind: 'dataAmount', every: 1000 },
};

function issuesOf(selection: unknown, training: object = {}): string[] {
  try {
    parseSpec({ ...minimal, training: { ...minimal.training, ...training }, selection });
  } catch (err) {
    assert.ok(err instanceof SpecError);
    return err.issues;
  }
  assert.fail('expected a SpecError');
}

describe('selection spec', () => {
  it('defaults to the new data, no presampling, no downsampling', () => {
    assert.deepEqual(parseSpec(minimal).selection, { window: { kind: 'newData' }, warmupTriggers: 0 });
  });

  it('parses every part, and one downsampler as a schedule from trigger 0', () => {
    const { selection } = parseSpec({
      ...minimal,
      selection: {
        window: { kind: 'lastTriggers', triggers: 3 },
        limit: { samples: 5000 },
        presampling: { strategy: 'labelBalanced', ratio: 0.5 },
        downsampling: { strategy: 'loss', ratio: 0.25 },
        warmupTriggers: 1,
      },
    });
    assert.deepEqual(selection.limit, { samples: 5000, keep: 'uniform' });
    assert.deepEqual(selection.presampling, { strategy: 'labelBalanced', ratio: 0.5, forceColumnBalancing: false, forceRequiredTargetSize: false });
    assert.deepEqual(selection.downsampling, [{ strategy: 'loss', ratio: 0.25, mode: 'batchThenSample', period: 1, fromTrigger: 0 }]);
  });

  it('names the field of every bad value', () => {
    assert.deepEqual(issuesOf({ presampling: { strategy: 'random', ratio: 0 } }), ['selection.presampling.ratio: must be in (0, 1]']);
    assert.deepEqual(issuesOf({ presampling: { strategy: 'random', ratio: 1.5 } }), ['selection.presampling.ratio: must be in (0, 1]']);
    assert.deepEqual(issuesOf({ downsampling: { strategy: 'loss', ratio: 2 } }), ['selection.downsampling.ratio: must be in (0, 1]']);
    assert.match(issuesOf({ freshness: { unusedRatio: 0.5 } })[0]!, /^selection\.freshness: freshness .* needs window allData \(the window is newData\)/);
    assert.match(issuesOf({ presampling: { strategy: 'triggerBalanced', ratio: 0.5 } })[0]!, /^selection\.presampling\.strategy: triggerBalanced/);
    assert.match(
      issuesOf({ downsampling: { strategy: 'loss', ratio: 0.5 } }, { stepsPerRun: 4 })[0]!,
      /^selection\.downsampling\.mode: batchThenSample .* needs training\.stepsPerRun 1 \(it is 4\)/,
    );
    assert.match(issuesOf({ downsampling: { strategy: 'kCenterGreedy', ratio: 0.5, balance: true } })[0]!, /^selection\.downsampling\.balance: balance needs mode sampleThenBatch/);
    assert.match(issuesOf({ downsampling: { strategy: 'nope', ratio: 0.5 } })[0]!, /^selection\.downsampling\.strategy: /);
    assert.deepEqual(issuesOf({ downsampling: { strategy: 'rhoLoss', ratio: 0.5 } }), [
      'selection.downsampling.holdout: rhoLoss trains its irreducible-loss model on held-out samples: give holdout: { ratio }, e.g. { ratio: 0.1 }, or holdout: { strategy: twin }',
    ]);
    assert.deepEqual(issuesOf({ downsampling: { strategy: 'rhoLoss', ratio: 0.5, holdout: {} } }), [
      'selection.downsampling.holdout.ratio: a simple holdout needs the share of the set it holds out, e.g. 0.1',
    ]);
    assert.deepEqual(issuesOf({ downsampling: { strategy: 'rhoLoss', ratio: 0.5, holdout: { strategy: 'twin', ratio: 0.3 } } }), [
      'selection.downsampling.holdout.ratio: a twin holdout splits the set in halves: no ratio',
    ]);
    assert.match(issuesOf({ downsampling: { strategy: 'rhoLoss', ratio: 0.5, holdout: { ratio: 0.1 }, mode: 'sampleThenBatch' } })[0]!, /^selection\.downsampling\.mode: /);
    assert.match(
      issuesOf({ presampling: { strategy: 'labelBalanced', ratio: 0.5, forceColumnBalancing: true, forceRequiredTargetSize: true } })[0]!,
      /^selection\.presampling\.forceRequiredTargetSize: /,
    );
  });

  it('checks a downsampling schedule entry by entry', () => {
    const issues = issuesOf({
      downsampling: [
        { fromTrigger: 2, strategy: 'loss', ratio: 0.5 },
        { fromTrigger: 2, strategy: 'uncertainty', ratio: 3 },
      ],
    });
    assert.deepEqual(issues.sort(), [
      'selection.downsampling.1.fromTrigger: must be after the previous entry\'s fromTrigger 2',
      'selection.downsampling.1.ratio: must be in (0, 1]',
    ].sort());
  });
});

describe('selection plan', () => {
  const spec = parseSpec({
    ...minimal,
    selection: {
      window: { kind: 'allData' },
      presampling: { strategy: 'randomNoReplacement', ratio: 0.5 },
      downsampling: [{ fromTrigger: 2, strategy: 'loss', ratio: 0.5 }, { fromTrigger: 4, strategy: 'rs2', ratio: 0.2 }],
      warmupTriggers: 1,
    },
  });

  it('skips presampling and downsampling for warm-up triggers, but tracks uses from the first', () => {
    const first = selectionPlan(spec.selection, 0, 7);
    assert.equal(first.presampling, undefined);
    assert.equal(first.tracksUses, true);
    assert.equal(selectionPlan(spec.selection, 1, 7).presampling?.strategy, 'randomNoReplacement');
  });

  it('switches downsamplers at their triggers', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 9].map((t) => downsamplerFor(spec.selection, t)?.strategy), [undefined, undefined, 'loss', 'loss', 'rs2', 'rs2']);
  });

  it('reads the selection of specs from before the structured section as their window', () => {
    assert.deepEqual(selectionPlan({ kind: 'allData' }, 3, 1), { window: { kind: 'allData' }, tracksUses: false, seed: selectionSeed(1, 3) });
  });

  it('draws a different seed per trigger and pipeline seed', () => {
    const seeds = new Set([0, 1, 2].flatMap((seed) => [0, 1, 2, 3].map((t) => selectionSeed(seed, t))));
    assert.equal(seeds.size, 12);
    for (const s of seeds) assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32);
  });
});

describe('fair shares', () => {
  it('water-fills: small groups give all they have, the rest split what is left', () => {
    assert.deepEqual(fairShares([10, 100, 100], 90), [10, 40, 40]);
    assert.deepEqual(fairShares([10, 100, 100], 91), [10, 40, 40]);
    assert.deepEqual(fairShares([10, 100, 100], 91, { forceRequiredTargetSize: true }), [10, 41, 40]);
    assert.deepEqual(fairShares([5, 5], 100), [5, 5]);
    assert.deepEqual(fairShares([0, 7], 3), [0, 3]);
  });

  it('gives equal counts with column balancing', () => {
    assert.deepEqual(fairShares([10, 100, 100], 90, { forceColumnBalancing: true }), [10, 10, 10]);
    assert.deepEqual(fairShares([50, 100, 100], 90, { forceColumnBalancing: true }), [30, 30, 30]);
  });

  it('never exceeds the target or a group', () => {
    for (let seed = 1; seed < 200; seed++) {
      const sizes = Array.from({ length: 1 + (seed % 6) }, (_, i) => (seed * 7919 + i * 104729) % 97);
      const target = (seed * 31) % 300;
      const shares = fairShares(sizes, target, { forceRequiredTargetSize: seed % 2 === 0 });
      const total = shares.reduce((a, b) => a + b, 0);
      assert.ok(total <= target && shares.every((s, i) => s <= sizes[i]!));
      if (seed % 2 === 0) assert.equal(total, Math.min(target, sizes.reduce((a, b) => a + b, 0)));
    }
  });
});

describe('freshness shares', () => {
  it('mixes unused and used samples in the ratio, as many as both allow', () => {
    assert.deepEqual(freshnessShares(100, 1000, 0.5), { unused: 100, used: 100 });
    assert.deepEqual(freshnessShares(100, 1000, 0.25), { unused: 100, used: 300 });
    assert.deepEqual(freshnessShares(1000, 100, 0.5), { unused: 100, used: 100 });
    assert.deepEqual(freshnessShares(100, 1000, 0.5, 50), { unused: 25, used: 25 });
  });

  it('takes what there is when one side is empty', () => {
    assert.deepEqual(freshnessShares(100, 0, 0.5), { unused: 100, used: 0 });
    assert.deepEqual(freshnessShares(0, 40, 0.5, 30), { unused: 0, used: 30 });
  });
});

describe('selection of specs written before the structured section', () => {
  it('reads `selection: { kind }` as that window', () => {
    assert.deepEqual(parseSpec({ ...minimal, selection: { kind: 'allData' } } as PipelineSpecInput).selection, { window: { kind: 'allData' }, warmupTriggers: 0 });
  });
});
