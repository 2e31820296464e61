import { denseRecordFormat } from './dense-records.js';
import { PIXELS, splitDigitsOptions } from './mnist-digits.js';
import { rotatingDigitPeriods } from './rotating-digits.js';
import { driftPoint, phaseOf, phaseStart, type Stream } from './stream.js';

/** The rotation of each third of the periods: upright, then a quarter turn, then upside down. */
const ROTATIONS = [0, 90, 180];

export const mnistAbrupt: Stream = {
  name: 'mnist-abrupt',
  description: 'MNIST digits upright, turned 90° from the second third of the periods on, 180° from the last third',
  format: denseRecordFormat(PIXELS, 10),
  options: (flags) => splitDigitsOptions('mnist-abrupt', flags, { periods: 9, seed: 7 }, ROTATIONS.length),
  driftPoints: ({ periods }) =>
    ROTATIONS.slice(1).map((degrees, i) => driftPoint(phaseStart(i + 1, periods, ROTATIONS.length), `rotation ${ROTATIONS[i]}° → ${degrees}°`)),
  periods: ({ periods, seed }) =>
    rotatingDigitPeriods({
      periods, degreesPerPeriod: 0, seed,
      rotations: Array.from({ length: periods }, (_, p) => ROTATIONS[phaseOf(p, periods, ROTATIONS.length)]!),
    }),
};
