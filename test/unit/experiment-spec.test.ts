import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeOverrides } from '../../policies/experiments/merge.js';
import { experimentRuns } from '../../policies/experiments/runs.js';
import { ExperimentError, parseExperiment } from '../../policies/experiments/schema.js';
import { variantTable, type RunFigures } from '../../policies/experiments/table.js';

const base = {
  dataset: { name: 'blobs' },
  model: { architecture: 'mlp', hidden: [16], numClasses: 4 },
  training: { epochs: 1, optimizer: { name: 'sgd', lr: 0.05 }, seed: 7 },
  trigger: { kind: 'dataAmount', every: 200 },
};

const issuesOf = (input: unknown): string[] => {
  try {
    parseExperiment(input);
  } catch (err) {
    assert.ok(err instanceof ExperimentError);
    return err.issues;
  }
  assert.fail('expected an ExperimentError');
};

describe('experiment overrides', () => {
  it('merges objects key by key and replaces arrays and scalars', () => {
    assert.deepEqual(
      mergeOverrides({ training: { epochs: 1, optimizer: { name: 'sgd', lr: 0.05 } }, model: { hidden: [16, 8] } }, { training: { epochs: 3, optimizer: { lr: 0.1 } }, model: { hidden: [4] } }),
      { training: { epochs: 3, optimizer: { name: 'sgd', lr: 0.1 } }, model: { hidden: [4] } },
    );
  });

  it('replaces an object whose kind changes instead of mixing two kinds', () => {
    assert.deepEqual(
      mergeOverrides({ trigger: { kind: 'time', every: '1d' } }, { trigger: { kind: 'dataAmount', every: 300 } }),
      { trigger: { kind: 'dataAmount', every: 300 } },
    );
    assert.deepEqual(mergeOverrides({ optimizer: { name: 'sgd', lr: 0.05, momentum: 0.5 } }, { optimizer: { name: 'adam', lr: 0.01 } }), { optimizer: { name: 'adam', lr: 0.01 } });
  });
});

describe('experiment file', () => {
  it('fills in defaults and lists one run per variant and seed, in the file\'s order', () => {
    const experiment = parseExperiment({
      name: 'amounts', base,
      variants: { every200: { seeds: [1, 2] }, every300: { overrides: { trigger: { every: 300 }, training: { epochs: 2 } }, seeds: [1, 2] }, plain: {} },
    });
    assert.equal(experiment.concurrency, 2);
    const runs = experimentRuns(experiment, 600);
    assert.deepEqual(runs.map((r) => r.pipelineName), ['amounts/every200/seed-1', 'amounts/every200/seed-2', 'amounts/every300/seed-1', 'amounts/every300/seed-2', 'amounts/plain/seed-7']);
    assert.deepEqual(runs.map((r) => r.spec.training.seed), [1, 2, 1, 2, 7]);
    assert.ok(runs.every((r) => r.spec.until?.key === 600));
    const every300 = runs[2]!.spec;
    assert.deepEqual([every300.trigger, every300.training.epochs, every300.training.optimizer.lr], [{ kind: 'dataAmount', every: 300 }, 2, 0.05]);
    assert.equal(runs[0]!.spec.trigger.kind === 'dataAmount' && runs[0]!.spec.trigger.every, 200);
  });

  it('names each bad field of a variant\'s merged spec as variants.<name>.<path>', () => {
    const issues = issuesOf({
      name: 'bad', base,
      variants: { ok: {}, slow: { overrides: { training: { epochs: 0 } } }, odd: { overrides: { trigger: { kind: 'dataAmount', every: -1 }, colour: 'red' } } },
    });
    assert.deepEqual(issues.sort(), [
      'variants.odd.(root): Unrecognized key: "colour"',
      'variants.odd.trigger.every: Too small: expected number to be >0',
      'variants.slow.training.epochs: Too small: expected number to be >=1',
    ].sort());
  });

  it('names bad experiment fields by path', () => {
    assert.deepEqual(issuesOf({ name: 'a/b', base, variants: {} }), [
      'name: use letters, digits, ".", "_" and "-" (starting with a letter or digit)',
      'variants: at least one variant',
    ]);
    const issues = issuesOf({ name: 'x', base, variants: { v: { seeds: [1, 1] } }, until: { samples: 0 }, concurrency: 0 });
    assert.ok(issues.includes('variants.v.seeds: seeds repeat'), issues.join('\n'));
    assert.ok(issues.some((i) => i.startsWith('until')), issues.join('\n'));
    assert.ok(issues.some((i) => i.startsWith('concurrency:')), issues.join('\n'));
  });

  it('keeps the dataset and the end of the stream the same for every variant', () => {
    assert.deepEqual(issuesOf({ name: 'x', base: { ...base, until: { key: 5 } }, variants: { v: { overrides: { dataset: { name: 'other' } } } } }), [
      'base.until: the experiment\'s `until` ends every variant',
      'variants.v.overrides.dataset: every variant runs over the base\'s dataset',
    ]);
  });
});

describe('experiment table', () => {
  const figures = (accuracy: number | null, triggers: number): RunFigures => ({
    meanCompositeAccuracy: accuracy, triggers, samplesTrained: 100 * triggers, samplesProcessed: 200 * triggers, trainingSeconds: triggers, totalSeconds: 10 * triggers,
  });

  it('gives each variant the mean ± sample std over its completed seeds, and lists failed seeds', () => {
    const rows = variantTable([
      { variant: 'a', seed: 1, pipelineName: 'e/a/seed-1', outcome: 'completed', figures: figures(0.8, 2) },
      { variant: 'a', seed: 2, pipelineName: 'e/a/seed-2', outcome: 'completed', figures: figures(0.9, 4) },
      { variant: 'b', seed: 1, pipelineName: 'e/b/seed-1', outcome: 'completed', figures: figures(null, 1) },
      { variant: 'b', seed: 2, pipelineName: 'e/b/seed-2', outcome: 'failed', message: 'boom' },
    ]);
    assert.deepEqual(rows.map((r) => r.variant), ['a', 'b']);
    const [a, b] = rows;
    assert.ok(Math.abs(a!.meanCompositeAccuracy!.mean - 0.85) < 1e-12);
    assert.ok(Math.abs(a!.meanCompositeAccuracy!.std - Math.sqrt(0.005)) < 1e-12);
    assert.deepEqual(a!.triggers, { mean: 3, std: Math.SQRT2 });
    assert.deepEqual([b!.completed, b!.failed, b!.meanCompositeAccuracy, b!.triggers], [1, [{ seed: 2, message: 'boom' }], null, { mean: 1, std: 0 }]);
  });
});
