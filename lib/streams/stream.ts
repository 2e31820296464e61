import type { DatasetFormat } from '../data/dataset-config.js';

/** Every stream writes fixed-size binary records: exact sizes, and ingestion without parsing text. */
export type StreamFormat = Extract<DatasetFormat, { kind: 'binary' }>;

/** The size and randomness of one run of a stream: the same options write the same bytes. */
export interface StreamOptions {
  periods: number;
  samplesPerPeriod: number;
  seed: number;
}

/** What the command line gave; the stream fills in the rest. */
export type StreamFlags = Partial<StreamOptions>;

/** A change in the data's distribution, from the first sample of `period` on. */
export interface DriftPoint {
  period: number;
  /** Sample time of the period's start, in seconds. */
  ts: number;
  change: string;
}

/**
 * A benchmark stream: a deterministic generator of one binary file per period, each period one day of sample
 * time, with drift at documented points. Adding one is a file in this folder and an entry in index.ts.
 */
export interface Stream {
  name: string;
  /** One line, for `tide data list`. */
  description: string;
  format: StreamFormat;
  /** The options for the given flags (the defaults for none); throws naming the flag a stream refuses or cannot honour. */
  options(flags: StreamFlags): StreamOptions;
  driftPoints(options: StreamOptions): DriftPoint[];
  /** Each period's file content, in sample-time order. */
  periods(options: StreamOptions): AsyncIterable<Buffer>;
}

/** 2026-01-01T00:00:00Z: period p covers day p after it. */
export const START_TS = 1_767_225_600;
export const DAY = 86_400;

export function periodStart(period: number): number {
  return START_TS + period * DAY;
}

/** The timestamp of sample `index` of `count` in a period: spread evenly over its day, in order. */
export function sampleTime(period: number, index: number, count: number): number {
  return periodStart(period) + Math.floor((index * DAY) / count);
}

export function driftPoint(period: number, change: string): DriftPoint {
  return { period, ts: periodStart(period), change };
}

/** For a stream whose concept changes `phases` times evenly over its periods: the phase (0-based) of a period. */
export function phaseOf(period: number, periods: number, phases: number): number {
  return Math.floor((phases * period) / periods);
}

/** The first period of a phase: where its drift point is. */
export function phaseStart(phase: number, periods: number, phases: number): number {
  return Math.ceil((phase * periods) / phases);
}

/** Samples and bytes of a run. */
export function streamSize(stream: Stream, options: StreamOptions): { samples: number; bytes: number } {
  const samples = options.periods * options.samplesPerPeriod;
  return { samples, bytes: samples * stream.format.recordSize };
}

/** Refuses fewer than `minPeriods` periods, naming the flag. */
export function checkPeriods(name: string, periods: number, minPeriods: number): void {
  if (periods < minPeriods) throw new Error(`--periods: ${name} needs at least ${minPeriods} periods (got ${periods})`);
}

/** The flags over the defaults, for a stream that generates any number of samples per period. */
export function optionsFrom(name: string, flags: StreamFlags, defaults: StreamOptions, minPeriods: number): StreamOptions {
  const options = {
    periods: flags.periods ?? defaults.periods,
    samplesPerPeriod: flags.samplesPerPeriod ?? defaults.samplesPerPeriod,
    seed: flags.seed ?? defaults.seed,
  };
  checkPeriods(name, options.periods, minPeriods);
  return options;
}
