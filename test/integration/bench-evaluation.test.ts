import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchEvaluation } from '../../bench/evaluation.js';

describe('tide bench evaluation', () => {
  it('runs end to end at a tiny size and reports every figure', async () => {
    const lines: string[] = [];
    const report = await benchEvaluation({ samples: 1500, batchSize: 256, rounds: 2, triggers: 3, heldOut: 40, log: (line) => lines.push(line) });
    for (const figure of [report.eval_ratio, report.eval_ratio_all_metrics, report.matrix_3_s, report.throughput.bareSamplesPerS.median]) {
      assert.ok(Number.isFinite(figure) && figure > 0, `${figure}`);
    }
    const { defaultMetrics, allMetrics, hostedLoop } = report.throughput;
    assert.equal(report.eval_ratio, defaultMetrics.ratio.median);
    assert.equal(report.eval_ratio_all_metrics, allMetrics.ratio.median);
    for (const s of [defaultMetrics.ratio, allMetrics.ratio, hostedLoop.ratio, defaultMetrics.ratioVsHostedLoop, allMetrics.metricsMs]) {
      assert.ok(s.min <= s.median && s.median <= s.max, JSON.stringify(s));
    }
    assert.deepEqual(defaultMetrics.metrics, ['accuracy', 'loss', 'f1Macro']);
    assert.ok(allMetrics.metrics.includes('rocAuc') && allMetrics.metrics.includes('confusionMatrix'));
    // The whole matrix: every model on every interval, each cell stored once.
    assert.equal(report.matrix.cells, 9);
    assert.equal(report.matrix.storedCells, 9);
    assert.equal(report.matrix.seconds, report.matrix_3_s);
    assert.ok(report.matrix.heldOutPerCell > 20 && report.matrix.heldOutPerCell < 70, `${report.matrix.heldOutPerCell} held out of 400 at 10 %`);
    assert.equal(lines.filter((l) => l.startsWith('round ')).length, 2);
  });
});
