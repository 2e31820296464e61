import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../../policies/duration.js';
import { parseSpec, SpecError } from '../../policies/spec.js';

const minimal = {
  dataset: { name: 'digits' },
  model: { architecture: 'mlp', numClasses: 10 },
  training: { optimizer: { name: 'sgd', lr: 0.05 } },
  trigger: { kind: 'dataAmount', every: 1000 },
};

function issuesOf(input: unknown): string[] {
  try {
    parseSpec(input);
  } catch (err) {
    assert.ok(err instanceof SpecError);
    return err.issues;
  }
  assert.fail('expected a SpecError');
}

describe('pipeline spec', () => {
  it('fills in defaults for a minimal spec', () => {
    const spec = parseSpec(minimal);
    assert.equal(spec.training.epochs, 1);
    assert.equal(spec.training.initialization, 'finetune');
    assert.deepEqual(spec.selection, { kind: 'newData' });
    assert.deepEqual(spec.queues, { cpu: 'tideline-cpu', gpu: 'tideline-gpu' });
    assert.equal(spec.evaluation.holdoutFraction, 0.1);
    assert.deepEqual(spec.model, { architecture: 'mlp', hidden: [128], numClasses: 10 });
    assert.equal(spec.training.optimizer.name === 'sgd' && spec.training.optimizer.momentum, 0.9);
  });

  it('names the path of every bad field', () => {
    const issues = issuesOf({
      ...minimal,
      training: { optimizer: { name: 'adam', lr: -1 }, epochs: 0 },
      trigger: { kind: 'time', every: 'three days' },
    });
    assert.ok(issues.some((i) => i.startsWith('training.optimizer.lr:')), issues.join('\n'));
    assert.ok(issues.some((i) => i.startsWith('training.epochs:')), issues.join('\n'));
    assert.ok(issues.some((i) => i.startsWith('trigger.every:') && i.includes('duration')), issues.join('\n'));
  });

  it('rejects unknown keys and unknown kinds', () => {
    assert.ok(issuesOf({ ...minimal, extra: 1 }).some((i) => i.includes('extra')));
    assert.ok(issuesOf({ ...minimal, trigger: { kind: 'sometimes' } }).some((i) => i.startsWith('trigger.kind:')));
    assert.ok(issuesOf({ ...minimal, model: { architecture: 'mlp' } }).some((i) => i.startsWith('model.numClasses:')));
    assert.ok(issuesOf({ ...minimal, dataset: undefined }).some((i) => i.startsWith('dataset:')));
  });

  it('takes loader prefetch settings and names a bad one', () => {
    assert.equal(parseSpec(minimal).training.loader, undefined);
    const loader = { partitionSize: 4096, prefetchPartitions: 0, parallelRequests: 4 };
    assert.deepEqual(parseSpec({ ...minimal, training: { ...minimal.training, loader } }).training.loader, loader);
    const issues = issuesOf({ ...minimal, training: { ...minimal.training, loader: { prefetchPartitions: -1, parallelRequests: 0, depth: 2 } } });
    assert.equal(issues.length, 3);
    for (const path of ['training.loader.prefetchPartitions', 'training.loader.parallelRequests', 'training.loader']) {
      assert.ok(issues.some((i) => i.startsWith(`${path}:`)), `${path} in ${issues.join('; ')}`);
    }
  });

  it('parses sample-time durations', () => {
    assert.equal(parseDuration('30s'), 30);
    assert.equal(parseDuration('1d'), 86_400);
    assert.equal(parseDuration('2w'), 1_209_600);
    assert.throws(() => parseDuration('1 fortnight'), /not a duration/);
    assert.throws(() => parseDuration('0d'), /longer than zero/);
  });
});
