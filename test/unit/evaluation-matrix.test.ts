import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cellsAfterTrigger, cellsForTrailingInterval } from '../../policies/evaluation/matrix.js';
import { selectionRanges } from '../../policies/selection/plan.js';

describe('evaluation matrix planning', () => {
  it('fills every (model, interval) cell exactly once over a pipeline', () => {
    const trained: number[] = [];
    const seen = new Set<string>();
    for (let t = 0; t < 6; t++) {
      if (t === 3) continue; // trigger 3 had an empty training set
      for (const cell of cellsAfterTrigger(t, trained)) {
        const key = `${cell.modelTrigger}/${cell.intervalId}`;
        assert.ok(!seen.has(key), `cell ${key} twice`);
        seen.add(key);
      }
      trained.push(t);
    }
    for (const cell of cellsForTrailingInterval(6, trained)) seen.add(`${cell.modelTrigger}/${cell.intervalId}`);
    assert.equal(seen.size, trained.length * 7);
  });
});

describe('selection ranges', () => {
  const trigger = { triggerId: 2, firstKey: 201, lastKey: 300 };
  it('new data is the trigger range, all data starts at the first key', () => {
    assert.deepEqual(selectionRanges({ kind: 'newData' }, trigger, 1), [{ firstKey: 201, lastKey: 300 }]);
    assert.deepEqual(selectionRanges({ kind: 'allData' }, trigger, 1), [{ firstKey: 1, lastKey: 300 }]);
  });
});
