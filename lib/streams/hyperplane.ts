import { createRng, type Rng } from '../rng.js';
import { DenseRecords, denseRecordFormat } from './dense-records.js';
import { hash32 } from './hash.js';
import { driftPoint, optionsFrom, sampleTime, type Stream, type StreamOptions } from './stream.js';

/**
 * The rotating hyperplane (Hulten et al. 2001, as MOA's HyperplaneGenerator and river's datasets.synth.Hyperplane
 * define it): features uniform in [0, 1], label 1 when Σ w_i·x_i ≥ ½·Σ w_i, else 0, 5% of labels flipped. After
 * each sample the weights of the drifting features move by MAG_CHANGE in their direction, and each direction
 * reverses with probability SIGMA: continuous drift, with no single point of change.
 */
export const HYPERPLANE_FEATURES = 10;
export const DRIFTING_FEATURES = 2;
export const MAG_CHANGE = 0.001;
export const SIGMA = 0.1;
export const HYPERPLANE_NOISE = 0.05;
const NAME = 'hyperplane';

/** The hyperplane's weights, moving sample by sample; its own random sequence, so the drift can be replayed alone. */
export class HyperplaneDrift {
  readonly weights: number[];
  private readonly directions = new Array<number>(DRIFTING_FEATURES).fill(1);
  private readonly rng: Rng;

  constructor(seed: number) {
    this.rng = createRng(hash32(seed, 0));
    this.weights = Array.from({ length: HYPERPLANE_FEATURES }, () => this.rng.next());
  }

  label(x: ArrayLike<number>): number {
    let sum = 0;
    let total = 0;
    for (let i = 0; i < HYPERPLANE_FEATURES; i++) {
      sum += this.weights[i]! * x[i]!;
      total += this.weights[i]!;
    }
    return sum >= total / 2 ? 1 : 0;
  }

  step(): void {
    for (let i = 0; i < DRIFTING_FEATURES; i++) {
      this.weights[i]! += this.directions[i]! * MAG_CHANGE;
      if (this.rng.next() < SIGMA) this.directions[i] = -this.directions[i]!;
    }
  }
}

/** The weights at the start of each period. */
export function hyperplaneWeights({ periods, samplesPerPeriod, seed }: StreamOptions): number[][] {
  const drift = new HyperplaneDrift(seed);
  const starts: number[][] = [];
  for (let p = 0; p < periods; p++) {
    starts.push([...drift.weights]);
    for (let i = 0; i < samplesPerPeriod; i++) drift.step();
  }
  return starts;
}

export const hyperplane: Stream = {
  name: NAME,
  description: `Rotating hyperplane: ${HYPERPLANE_FEATURES} features in [0, 1], the weights of ${DRIFTING_FEATURES} moving ${MAG_CHANGE} per sample (continuous drift), ${HYPERPLANE_NOISE * 100}% label noise`,
  format: denseRecordFormat(HYPERPLANE_FEATURES, 2),
  options: (flags) => optionsFrom(NAME, flags, { periods: 8, samplesPerPeriod: 2000, seed: 7 }, 2),
  driftPoints: (options) =>
    hyperplaneWeights(options).slice(1).map((w, i) =>
      driftPoint(i + 1, `continuous: ${w.slice(0, DRIFTING_FEATURES).map((v, f) => `w${f} ${v.toFixed(2)}`).join(', ')}`)),
  async *periods({ periods, samplesPerPeriod, seed }) {
    const drift = new HyperplaneDrift(seed);
    const rng = createRng(hash32(seed, 1));
    const x = new Float32Array(HYPERPLANE_FEATURES);
    for (let p = 0; p < periods; p++) {
      const records = new DenseRecords(HYPERPLANE_FEATURES, samplesPerPeriod);
      for (let i = 0; i < samplesPerPeriod; i++) {
        for (let f = 0; f < HYPERPLANE_FEATURES; f++) x[f] = rng.next();
        const clean = drift.label(x);
        records.set(i, rng.next() < HYPERPLANE_NOISE ? 1 - clean : clean, sampleTime(p, i, samplesPerPeriod), x);
        drift.step();
      }
      yield records.buffer;
    }
  },
};
