import { join, resolve } from 'node:path';
import type pg from 'pg';
import type { BatchDescriptor } from '../../policies/batches.js';
import type { DatasetConfig } from '../data/dataset-config.js';
import { getDataset, registerDataset, type Dataset } from '../data/datasets.js';
import { ingestFiles } from '../data/ingest.js';
import { writePeriodFiles } from './period-files.js';
import type { Stream, StreamOptions } from './stream.js';

/** A run of a stream as a dataset: its files written, the dataset registered, the files ingested in sample-time order. */

/** The holdout of every stream's dataset, as examples/mnist-drift/dataset.yaml's. */
export const STREAM_HOLDOUT = { fraction: 0.15, seed: 0 };

/** `<home>/data/<stream>/periods-8-samples-2000-seed-7`: a folder per options, so runs with other options never mix. */
export function streamRoot(home: string, stream: Stream, { periods, samplesPerPeriod, seed }: StreamOptions): string {
  return join(home, 'data', stream.name, `periods-${periods}-samples-${samplesPerPeriod}-seed-${seed}`);
}

/** Writes the run's files into `root`, skipping those already written; returns their names in sample-time order. */
export function writeStreamFiles(stream: Stream, options: StreamOptions, root: string): Promise<string[]> {
  return writePeriodFiles(root, options.periods, () => stream.periods(options));
}

export function streamDatasetConfig(stream: Stream, root: string, name: string): DatasetConfig {
  return { name, root, format: stream.format, holdout: STREAM_HOLDOUT };
}

/**
 * Registers the run's dataset, or finds it registered by an earlier run of the same stream and options. A dataset of
 * that name over other files (another stream, or other options) is refused, naming both folders.
 */
export async function registerStreamDataset(pool: pg.Pool, config: DatasetConfig): Promise<Dataset> {
  const existing = await getDataset(pool, config.name);
  const root = resolve(config.root);
  if (existing && existing.root !== root) {
    throw new Error(
      `dataset "${config.name}" already exists over ${existing.root}, not this run's files in ${root} (another stream or other options); ` +
        `choose another --name, or remove it with \`tide dataset remove ${config.name}\``,
    );
  }
  return registerDataset(pool, config);
}

export interface StreamIngest {
  /** One per file ingested now. */
  batches: BatchDescriptor[];
  /** Files an earlier run ingested. */
  alreadyIngested: number;
}

/** Ingests the files in the order given (sample-time order); a file that ingestion refuses is an error. */
export async function ingestStreamFiles(pool: pg.Pool, dataset: Dataset, files: string[], onFile?: (done: number) => void): Promise<StreamIngest> {
  const result: StreamIngest = { batches: [], alreadyIngested: 0 };
  let done = 0;
  await ingestFiles(pool, dataset, files, {
    onOutcome: (outcome) => {
      if (outcome.status === 'rejected') throw new Error(`dataset "${dataset.name}": ${outcome.error.message} (the file is quarantined)`);
      if (outcome.status === 'ingested') result.batches.push(outcome.batch);
      else result.alreadyIngested++;
      onFile?.(++done);
    },
  });
  return result;
}

/** The samples a dataset holds. */
export async function datasetSampleCount(pool: pg.Pool, datasetId: number): Promise<number> {
  const { rows } = await pool.query<{ samples: string }>('SELECT coalesce(sum(num_samples), 0) AS samples FROM files WHERE dataset_id = $1', [datasetId]);
  return Number(rows[0]!.samples);
}
