import { denseRecordFormat } from './dense-records.js';
import { PIXELS, splitDigitsOptions } from './mnist-digits.js';
import { rotatingDigitPeriods } from './rotating-digits.js';
import { driftPoint, type Stream } from './stream.js';

const DEGREES_PER_PERIOD = 10;

/** The demo's stream: with its defaults (8 periods, seed 7) it writes the demo's files, byte for byte. */
export const mnistGradual: Stream = {
  name: 'mnist-gradual',
  description: `MNIST digits rotated ${DEGREES_PER_PERIOD}° more every period (the demo's stream)`,
  format: denseRecordFormat(PIXELS, 10),
  options: (flags) => splitDigitsOptions('mnist-gradual', flags, { periods: 8, seed: 7 }, 2),
  driftPoints: ({ periods }) =>
    Array.from({ length: periods - 1 }, (_, i) => driftPoint(i + 1, `rotation ${i * DEGREES_PER_PERIOD}° → ${(i + 1) * DEGREES_PER_PERIOD}°`)),
  periods: ({ periods, seed }) => rotatingDigitPeriods({ periods, degreesPerPeriod: DEGREES_PER_PERIOD, seed }),
};
