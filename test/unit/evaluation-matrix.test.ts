import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cellsAfterTrigger, cellsForTrailingInterval } from '../../policies/evaluation/matrix.js';

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
