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

describe('evaluated models', () => {
  /** Every cell a pipeline with these triggers (3 trained nothing) evaluates, and the trailing interval's. */
  function cellsOf(models: 'matrix' | 'active' | 'trained'): string[] {
    const trained: number[] = [];
    const cells: string[] = [];
    for (let t = 0; t < 6; t++) {
      if (t === 3) continue;
      cells.push(...cellsAfterTrigger(t, trained, models).map((c) => `${c.modelTrigger}/${c.intervalId}`));
      trained.push(t);
    }
    cells.push(...cellsForTrailingInterval(6, trained, models).map((c) => `${c.modelTrigger}/${c.intervalId}`));
    return cells;
  }

  it('active takes the composite models’ cells: each interval by the model serving it and by the one trained on it', () => {
    const cells = cellsOf('active');
    assert.deepEqual(cells, ['0/0', '1/1', '0/1', '2/2', '1/2', '4/4', '2/3', '2/4', '5/5', '4/5', '5/6']);
    assert.equal(new Set(cells).size, cells.length);
    for (const cell of cells) assert.ok(cellsOf('matrix').includes(cell), `${cell} is a matrix cell`);
  });

  it('trained takes each model on its own interval, and the last model on the data after it', () => {
    assert.deepEqual(cellsOf('trained'), ['0/0', '1/1', '2/2', '4/4', '5/5', '5/6']);
  });

  it('grows linearly with the triggers in active mode, quadratically for the matrix', () => {
    const count = (models: 'matrix' | 'active', triggers: number) => {
      const trained: number[] = [];
      let n = 0;
      for (let t = 0; t < triggers; t++) {
        n += cellsAfterTrigger(t, trained, models).length;
        trained.push(t);
      }
      return n;
    };
    assert.equal(count('active', 100), 2 * 100 - 1);
    assert.equal(count('matrix', 100), 100 * 100);
  });
});
