import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTrainingProgress } from '../../cli/training-progress.js';

describe('formatTrainingProgress', () => {
  it('says epoch, step of total, running loss and throughput in one line', () => {
    const line = formatTrainingProgress({ triggerId: 3, epoch: 2, epochs: 5, stepsDone: 140, totalSteps: 350, loss: 0.41234, samplesPerS: 3210.4 });
    assert.equal(line, 'training trigger 3: epoch 2/5, step 140/350, loss 0.412, 3,210 samples/s');
  });

  it('leaves out what the heartbeat does not carry yet', () => {
    assert.equal(formatTrainingProgress({ triggerId: 0, stepsDone: 4 }), 'training trigger 0: step 4');
  });
});
