import { createRng } from '../rng.js';
import { DenseRecords, denseRecordFormat } from './dense-records.js';
import { driftPoint, optionsFrom, phaseOf, phaseStart, sampleTime, type Stream } from './stream.js';

/**
 * SEA concepts (Street & Kim 2001, as MOA's SEAGenerator and river's datasets.synth.SEA define them): three features
 * uniform in [0, 10], of which only the first two matter; the label is 1 when f1 + f2 > θ, else 0. θ takes the
 * four classic values in turn, one per quarter of the periods, and a tenth of the labels are flipped (MOA's default
 * noise).
 */
export const SEA_THRESHOLDS = [8, 9, 7, 9.5];
export const SEA_NOISE = 0.1;
const NAME = 'sea';
const FEATURES = 3;

/** The threshold θ of a period. */
export function seaThreshold(period: number, periods: number): number {
  return SEA_THRESHOLDS[phaseOf(period, periods, SEA_THRESHOLDS.length)]!;
}

export const sea: Stream = {
  name: NAME,
  description: `SEA concepts: 3 features in [0, 10], label f1 + f2 > θ, θ = ${SEA_THRESHOLDS.join(', ')} by quarter of the periods, ${SEA_NOISE * 100}% label noise`,
  format: denseRecordFormat(FEATURES, 2),
  options: (flags) => optionsFrom(NAME, flags, { periods: 8, samplesPerPeriod: 2000, seed: 7 }, SEA_THRESHOLDS.length),
  driftPoints: ({ periods }) =>
    SEA_THRESHOLDS.slice(1).map((theta, i) => driftPoint(phaseStart(i + 1, periods, SEA_THRESHOLDS.length), `θ ${SEA_THRESHOLDS[i]} → ${theta}`)),
  async *periods({ periods, samplesPerPeriod, seed }) {
    const rng = createRng(seed);
    const features = new Float32Array(FEATURES);
    for (let p = 0; p < periods; p++) {
      const theta = seaThreshold(p, periods);
      const records = new DenseRecords(FEATURES, samplesPerPeriod);
      for (let i = 0; i < samplesPerPeriod; i++) {
        // The label is decided on the stored float32 values, so a reader recomputes it exactly.
        for (let f = 0; f < FEATURES; f++) features[f] = rng.uniform(0, 10);
        const clean = features[0]! + features[1]! > theta ? 1 : 0;
        records.set(i, rng.next() < SEA_NOISE ? 1 - clean : clean, sampleTime(p, i, samplesPerPeriod), features);
      }
      yield records.buffer;
    }
  },
};
