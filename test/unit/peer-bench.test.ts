/**
 * `tide bench peer`'s report, without PyTorch: rows per (model, batch size) with medians and per-round ratios,
 * the lowest median ratio, and the refusal of a model whose parameter counts differ.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkParams, minRatio, peerRows, type PeerSample } from '../../bench/peer.js';

const sample = (model: string, batchSize: number, tideline: number, torch: number): PeerSample =>
  ({ model, batchSize, tidelineSamplesPerS: tideline, torchSamplesPerS: torch });

describe('bench peer report', () => {
  const params = new Map([['mlp', { tideline: 101_770, torch: 101_770 }], ['cnn', { tideline: 10_474, torch: 10_474 }]]);

  it('groups rounds per model and batch size in first-seen order, ratios paired within each round', () => {
    const rows = peerRows([
      sample('mlp', 64, 100, 200), sample('cnn', 64, 30, 10),
      sample('mlp', 64, 300, 200), sample('cnn', 64, 20, 10),
      sample('mlp', 64, 200, 100), sample('cnn', 64, 10, 10),
    ], params);
    assert.deepEqual(rows.map((r) => `${r.model}/${r.batchSize}`), ['mlp/64', 'cnn/64']);
    const [mlp, cnn] = rows;
    assert.deepEqual(mlp!.tidelineSamplesPerS, { median: 200, min: 100, max: 300 });
    assert.deepEqual(mlp!.torchSamplesPerS, { median: 200, min: 100, max: 200 });
    // Ratios 0.5, 1.5, 2: the median of the paired ratios, not the ratio of the medians (1).
    assert.deepEqual(mlp!.ratio, { median: 1.5, min: 0.5, max: 2 });
    assert.deepEqual(cnn!.ratio, { median: 2, min: 1, max: 3 });
    assert.equal(mlp!.tidelineParams, 101_770);
    assert.equal(minRatio(rows), 1.5);
  });

  it('fails naming the model when the parameter counts differ', () => {
    assert.doesNotThrow(() => checkParams('mlp', 101_770, 101_770));
    assert.throws(() => checkParams('resnet', 78_042, 78_000), /resnet has 78042 parameters in Tideline but 78000 in PyTorch/);
  });
});
