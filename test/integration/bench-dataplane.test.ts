import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchDataplane } from '../../bench/dataplane.js';

describe('tide bench dataplane', () => {
  it('runs end to end on a tiny dataset and reports every figure', async () => {
    const lines: string[] = [];
    const report = await benchDataplane({
      rows: 3000, files: 3, parallel: 2, repeats: 2, batchSize: 64, steps: 4, rounds: 2, fraction: 0.5,
      partitionSizes: [256], prefetchPartitions: [0, 2], parallelRequests: [1, 3],
      loader: { partitionSize: 512, prefetchPartitions: 1, parallelRequests: 1 },
      images: 480, cnnBatchSize: 32, cnnSteps: 2, cnnLoader: { partitionSize: 128, prefetchPartitions: 1, parallelRequests: 4 },
      log: (line) => lines.push(line),
    });
    assert.equal(report.ingest.rows, 3000);
    assert.equal(report.ingest.ingestRatios.length, 2);
    for (const figure of [report.ingest_rows_per_s, report.ingest_ratio, report.ingest.copyRowsPerS, report.ingest.bulkRowsPerS, report.dlrm_ratio, report.dlrm.rawLoopSamplesPerS]) {
      assert.ok(Number.isFinite(figure) && figure > 0, `${figure}`);
    }
    assert.ok(report.dlrm.selected > 1200 && report.dlrm.selected < 1800, `${report.dlrm.selected} of 3000 selected at 50 %`);
    // The reported loader setting comes first, then the sweep's grid.
    assert.deepEqual(report.dlrm.sweep.map((r) => [r.partitionSize, r.prefetchPartitions, r.parallelRequests]), [
      [512, 1, 1], [256, 0, 1], [256, 0, 3], [256, 2, 1], [256, 2, 3],
    ]);
    for (const row of report.dlrm.sweep) {
      assert.ok(row.samplesPerS > 0 && row.ratio > 0 && row.stalls.maxMs >= row.stalls.p99Ms, JSON.stringify(row));
      // On Linux the main thread's own CPU time in its longest event-loop turn is measured too.
      if (process.platform === 'linux') assert.ok(row.stalls.maxBusyMs! > 0, JSON.stringify(row.stalls));
      assert.equal(row.ratios.length, 2);
      assert.ok(row.ratios.includes(row.ratio));
    }
    assert.equal(report.dlrm_ratio, report.dlrm.sweep[0]!.ratio);
    assert.equal(report.event_loop_max_ms, report.dlrm.sweep[0]!.stalls.maxMs);
    assert.ok(lines.some((l) => l.includes('partition 256 prefetch 2 requests 3')));
    // The CNN runs the same full path on one-PNG-per-file images.
    assert.ok(report.cnn!.selected > 180 && report.cnn!.selected < 300, `${report.cnn!.selected} of 480 images selected at 50 %`);
    assert.deepEqual(report.cnn!.sweep.map((r) => [r.partitionSize, r.prefetchPartitions, r.parallelRequests]), [[128, 1, 4]]);
    assert.ok(report.cnn_ratio! > 0 && report.cnn!.rawLoopSamplesPerS > 0);
    assert.ok(lines.some((l) => l.includes('ingested 480 images')));
  });
});
