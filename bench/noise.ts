/**
 * The noise floor of the turn-taking benchmarks on this machine: two copies of `tide bench train`'s raw loop take turns
 * as the trainer and the raw loop do there (segments of as many steps, the second right after the first), so the
 * ratio a row reads is the one `tide bench train` would read for a trainer with no overhead at all. How far its median
 * lands from 1, and its spread over rounds, say how far one run's train or peer ratios can be trusted.
 */
import { round, spread, type Spread } from './rounds.js';
import { benchModel, rawSegments, segmentSteps } from './train.js';

export interface NoiseRow {
  model: string;
  batchSize: number;
  /** Steps each side times per round. */
  steps: number;
  firstSamplesPerS: Spread;
  secondSamplesPerS: Spread;
  /** first ÷ second, taken within each round. */
  ratio: Spread;
}

/** One (model, batch size): `rounds` pairs of raw-loop segments of about `seconds` each, after one untimed segment a side. */
export async function benchNoiseRow(model: string, batchSize: number, seconds: number, rounds: number): Promise<NoiseRow> {
  const { def, batch } = benchModel(model, batchSize);
  const steps = await segmentSteps(def, batch, seconds, 1);
  const first = await rawSegments(def, batch);
  const second = await rawSegments(def, batch);
  try {
    await first.run(steps);
    await second.run(steps);
    const samplesPerS = (ms: number) => (steps * batchSize * 1000) / ms;
    const a: number[] = [];
    const b: number[] = [];
    for (let round = 0; round < rounds; round++) {
      a.push(samplesPerS(await first.run(steps)));
      b.push(samplesPerS(await second.run(steps)));
    }
    return {
      model, batchSize, steps,
      firstSamplesPerS: spread(a, 0), secondSamplesPerS: spread(b, 0), ratio: spread(a.map((v, i) => v / b[i]!), 3),
    };
  } finally {
    await Promise.all([first.close(), second.close()]);
  }
}

/** Each named zoo model at each batch size, one row each. */
export async function benchNoise(opts: {
  batchSizes: number[];
  seconds: number;
  rounds: number;
  models: string[];
  onRow?: (row: NoiseRow) => void;
}): Promise<NoiseRow[]> {
  const rows: NoiseRow[] = [];
  for (const model of opts.models) {
    for (const batchSize of opts.batchSizes) {
      const row = await benchNoiseRow(model, batchSize, opts.seconds, opts.rounds);
      rows.push(row);
      opts.onRow?.(row);
    }
  }
  return rows;
}

/** The largest distance of a row's median ratio from 1, to the ratios' three digits. */
export function maxDeviation(rows: NoiseRow[]): number {
  return round(Math.max(...rows.map((r) => Math.abs(r.ratio.median - 1))), 3);
}
