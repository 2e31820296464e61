import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arrivalGapMs, replayDatasetName } from '../../policies/experiments/replay.js';
import { experimentRuns } from '../../policies/experiments/runs.js';
import { parseExperiment } from '../../policies/experiments/schema.js';

describe('replay-stream mode of experiment variants', () => {
  it('spaces arrivals by their sample time at the speed, never backwards', () => {
    assert.equal(arrivalGapMs(0, 86_400, 86_400), 1000);
    assert.equal(arrivalGapMs(0, 43_200, 86_400 * 4), 125);
    assert.equal(arrivalGapMs(100, 50, 1), 0, 'a backdated file arrives at once');
  });

  it('names the replay\'s dataset after its base and pipeline, within the dataset name rules', () => {
    const name = replayDatasetName('mnist-gradual', 'showcase/drift/seed-42');
    assert.match(name, /^mnist-gradual\.replay-[0-9a-f]{8}$/);
    assert.equal(replayDatasetName('mnist-gradual', 'showcase/drift/seed-42'), name, 'the same for every attempt');
    assert.notEqual(replayDatasetName('mnist-gradual', 'showcase/drift/seed-43'), name);
    assert.ok(replayDatasetName('x'.repeat(80), 'p').length <= 63);
  });

  it('carries a variant\'s replay speed to its runs and refuses a speed that is not positive', () => {
    const experiment = parseExperiment({
      name: 'e',
      base: { dataset: { name: 'd' }, model: { architecture: 'mlp', numClasses: 2 }, training: { epochs: 1, batchSize: 8, optimizer: { name: 'sgd', lr: 0.1 } }, trigger: { kind: 'dataAmount', every: 10 } },
      variants: { caughtUp: {}, live: { replay: { speed: 3600 } } },
    });
    assert.deepEqual(experimentRuns(experiment, 100).map((r) => [r.variant, r.replay]), [['caughtUp', undefined], ['live', { speed: 3600 }]]);
    assert.throws(() => parseExperiment({ ...experiment, variants: { live: { replay: { speed: 0 } } } }), /variants\.live\.replay\.speed: /);
  });
});
