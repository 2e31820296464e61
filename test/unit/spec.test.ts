import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../../policies/duration.js';
import { parseSpec, SpecError } from '../../policies/spec.js';
import { triggerSpec } from '../helpers/trigger-spec.js';

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
    assert.deepEqual(spec.selection, { window: { kind: 'newData' }, warmupTriggers: 0 });
    assert.deepEqual(spec.queues, { cpu: 'tideline-cpu', gpu: 'tideline-gpu' });
    assert.deepEqual(spec.evaluation.metrics.map((m) => m.kind), ['accuracy', 'loss', 'f1']);
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

  it('sends a holdout fraction to the dataset config, where it now lives', () => {
    assert.deepEqual(issuesOf({ ...minimal, evaluation: { holdoutFraction: 0.2 } }), [
      'evaluation.holdoutFraction: the holdout is the dataset\'s now: set `holdout: { fraction, seed }` in the dataset config',
    ]);
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

describe('trigger spec', () => {
  const drift = { kind: 'dataDrift', every: 100, metrics: [{ kind: 'mmd', criterion: { kind: 'threshold', value: 0.1 } }] };
  const issues = (trigger: unknown): string => {
    try {
      triggerSpec(trigger);
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  };

  it('fills in the model-aware triggers\' defaults', () => {
    const t = triggerSpec(drift);
    assert.ok(t.kind === 'dataDrift');
    assert.deepEqual([t.window, t.allowOverlap, t.aggregation], [{ samples: 1000 }, false, { kind: 'majority' }]);
    const ks = triggerSpec({ ...drift, metrics: [{ kind: 'ks' }] });
    assert.ok(ks.kind === 'dataDrift' && ks.metrics[0]!.kind === 'ks' && ks.metrics[0]!.correction === 'bonferroni' && ks.metrics[0]!.pValue === 0.05);
  });

  it('names the field of every bad setting', () => {
    assert.match(issues({ ...drift, window: { samples: 50 } }), /trigger\.window\.samples: window of 50 samples is smaller than every \(100\)/);
    assert.match(issues({ ...drift, metrics: [{ kind: 'mmd', criterion: { kind: 'quantile' } }] }), /trigger\.metrics\.0\.criterion\.kind: a dynamic criterion/);
    assert.match(issues({ ...drift, metrics: [{ kind: 'wasserstein' }] }), /trigger\.metrics\.0\.kind/);
    assert.match(issues({ ...drift, metrics: [{ kind: 'hellinger', criterion: { kind: 'threshold', value: 1.5 } }] }), /trigger\.metrics\.0\.criterion\.value: threshold 1\.5 is outside \[0, 1\]/);
    assert.match(issues({ ...drift, metrics: [{ kind: 'ks', pValue: 1.5 }] }), /trigger\.metrics\.0\.pValue/);
    assert.match(issues({ kind: 'performance', every: 10, criteria: [{ kind: 'threshold', value: 80 }] }), /trigger\.criteria\.0\.value: threshold 80 is outside \[0, 1\]/);
    assert.match(issues({ kind: 'cost', every: 10, regret: { kind: 'latency', perTrainingSecond: 0 } }), /trigger\.regret\.perTrainingSecond/);
    assert.match(issues({ kind: 'ensemble', members: { a: { kind: 'dataDrift', every: 0, metrics: [] } } }), /trigger\.members\.a\.every/);
    assert.match(issues({ ...drift, warmup: { evaluations: 2, policy: { kind: 'dataDrift' } } }), /trigger\.warmup\.policy\.kind/);
  });
});

describe('pipeline spec size bounds', () => {
  it('refuses sizes that would fail every training attempt, naming the field and the bound', () => {
    const cases: [unknown, RegExp][] = [
      [{ ...minimal, model: { architecture: 'mlp', hidden: [2147483647], numClasses: 10 } }, /^model\.hidden\.0: must be at most 65,536$/],
      [{ ...minimal, training: { ...minimal.training, batchSize: 1e9 } }, /^training\.batchSize: must be at most 1,048,576$/],
      [{ ...minimal, training: { ...minimal.training, epochs: 1e6 } }, /^training\.epochs: must be at most 100,000$/],
      [{ ...minimal, training: { ...minimal.training, checkpointEvery: 2 ** 53 } }, /^training\.checkpointEvery: must be at most 1,000,000,000$/],
      [{ ...minimal, training: { ...minimal.training, stepsPerRun: 1e5 } }, /^training\.stepsPerRun: must be at most 1,024$/],
      [{ ...minimal, training: { ...minimal.training, loader: { partitionSize: 1e12 } } }, /^training\.loader\.partitionSize: must be at most/],
      [{ ...minimal, training: { ...minimal.training, schedule: { kind: 'cosine', totalSteps: 1e15 } } }, /^training\.schedule\.totalSteps: must be at most/],
      [{ ...minimal, model: { architecture: 'cnn', numClasses: 10, inputShape: [1, 28, 28], filters: [1e6] } }, /^model\.filters\.0: must be at most 65,536$/],
      [{ ...minimal, model: { architecture: 'resnet', numClasses: 10, inputShape: [3, 32, 32], blocksPerStage: 1e6 } }, /^model\.blocksPerStage: must be at most 1,024$/],
      [{ ...minimal, model: { architecture: 'textClassifier', numClasses: 2, embeddingDim: 1e6 } }, /^model\.embeddingDim: must be at most 65,536$/],
      [{ ...minimal, model: { architecture: 'mlp', numClasses: 1e9 } }, /^model\.numClasses: must be at most 1,048,576$/],
      [{ ...minimal, model: { architecture: 'mlp', numClasses: 10, hidden: new Array(2000).fill(8) } }, /^model\.hidden: at most 1024 layers$/],
      [{ ...minimal, evaluation: { batchSize: 1e9 } }, /^evaluation\.batchSize: must be at most 1,048,576$/],
      [{ ...minimal, maxTriggers: 1e12 }, /^maxTriggers: must be at most 1,000,000$/],
    ];
    for (const [input, issue] of cases) {
      const issues = issuesOf(input);
      assert.ok(issues.some((i) => issue.test(i)), `${issue}: got ${issues.join('; ')}`);
    }
  });

  it('accepts the largest sizes it allows', () => {
    const spec = parseSpec({
      ...minimal,
      model: { architecture: 'mlp', hidden: [65_536], numClasses: 1_048_576 },
      training: { ...minimal.training, batchSize: 1_048_576, epochs: 100_000, checkpointEvery: 1e9, stepsPerRun: 1_024 },
      evaluation: { batchSize: 1_048_576 },
    });
    assert.equal(spec.training.batchSize, 1_048_576);
  });
});
