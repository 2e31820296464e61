import type { BadRows, DatasetFormat } from '../dataset-config.js';
import type { SkippedRows } from '../skipped-rows.js';
import { binaryFeatureSource, scanBinary } from './binary.js';
import { csvFeatureSource, readCsv } from './csv.js';
import { imageFeatureSource, isImageFile, scanImage } from './image.js';
import { scanText, textFeatureSource } from './text.js';

/** What ingestion stores of a file: one label and timestamp per sample, in file order. */
export interface FileSamples {
  count: number;
  labels: Int32Array;
  /** whole seconds */
  timestamps: Float64Array;
  /**
   * Each sample's record index as the format's FeatureSource is given it, where that is not the sample's own
   * (records skipped before it still count); absent → 0 .. count-1.
   */
  indexes?: Int32Array;
  /** Bad rows left out with `ingest.badRows: 'skip'`; absent when none was. */
  skipped?: SkippedRows;
}

/** An ingested file as the loader finds it in `files`. */
export interface StoredFile {
  fileId: number;
  /** The dataset root. */
  root: string;
  /**
   * The file's path: resolved in the root (resolveInRoot: no symlink leads out of it), or for a source that
   * `checksPaths`, only lexically inside it.
   */
  absolute: string;
  relative: string;
  sizeBytes: number;
}

/**
 * The records requested from one file, in ascending record index: record `indexes[i]` goes to output row
 * `rows[i]`. Typed arrays rather than an object per record, so a partition of tens of thousands of samples
 * leaves nothing long-lived for the garbage collector.
 */
export interface Picks {
  indexes: Int32Array;
  rows: Int32Array;
}

/** Picks from (record index, output row) pairs in any order. */
export function picksOf(pairs: { index: number; row: number }[]): Picks {
  const sorted = [...pairs].sort((a, b) => a.index - b.index);
  return { indexes: Int32Array.from(sorted, (p) => p.index), rows: Int32Array.from(sorted, (p) => p.row) };
}

/**
 * Fills `out[row * features ...]` with the features of each picked record of one file, and
 * `categorical[row * categoricalCount ...]` with its categorical ids when the format has them
 * (then `categorical` is required). The loader calls `read` for several files at once.
 */
export interface FeatureSource {
  /** How many files the loader may read at once with this source; absent → one at a time. */
  concurrency?: number;
  /**
   * Whether `read` itself checks that a file lies in the root (resolveInRoot), before it reads the file's content:
   * the loader then hands it paths only lexically inside the root. A source that serves most reads from data it
   * derived from a checked version of the file (decoded pixels, kept under the file's identity) saves two realpath
   * walks (a lookup of every component of the path each) per read.
   */
  checksPaths?: boolean;
  /**
   * Rows the training loader decodes at a time, the next chunk while the current one is consumed; absent → a
   * whole partition at once (best for formats whose reads of one file coalesce). Chunks end where the loader's
   * batches do, at the first batch boundary at least this many rows in, and a chunk of exactly one batch becomes
   * it: the trainer receives the buffer it was decoded into, not a copy.
   */
  chunkRows?: number;
  read(file: StoredFile, picks: Picks, out: Float32Array, categorical?: Int32Array): Promise<void>;
  /**
   * A read served at once, when it waits for nothing (data the source keeps in memory, still valid for the file):
   * true when done, false → the loader calls `read`. Asked only of a source that checksPaths, whose files the loader
   * places in the root at once. Reads served from memory then cost no promise and no request slot.
   */
  readNow?(file: StoredFile, picks: Picks, out: Float32Array, categorical?: Int32Array): boolean;
}

/**
 * Decodes and validates a whole file for ingestion; throws IngestError for a corrupt file, and for a bad row
 * unless `badRows` is 'skip' (an image file is one sample, so it has no rows to skip). Records without a
 * timestamp get the file's mtime.
 */
export async function scanFile(format: DatasetFormat, absolute: string, relative: string, mtimeS: number, badRows: BadRows = 'reject'): Promise<FileSamples> {
  if (format.kind === 'binary') return scanBinary(format, absolute, relative, mtimeS, badRows);
  if (format.kind === 'image') return scanImage(format, absolute, relative, mtimeS);
  if (format.kind === 'text') return scanText(format, absolute, relative, mtimeS, badRows);
  const table = await readCsv(format, absolute, relative, badRows);
  return {
    count: table.count,
    labels: table.labels,
    timestamps: table.timestamps ?? new Float64Array(table.count).fill(Math.floor(mtimeS)),
    ...(table.skipped && { skipped: table.skipped }),
  };
}

export function featureSource(format: DatasetFormat): FeatureSource {
  switch (format.kind) {
    case 'binary':
      return binaryFeatureSource(format);
    case 'csv':
      return csvFeatureSource(format);
    case 'image':
      return imageFeatureSource(format);
    case 'text':
      return textFeatureSource(format);
  }
}

/** Whether a file found under the dataset root holds samples (an image format's sidecars do not). */
export function isSampleFile(format: DatasetFormat, relative: string): boolean {
  return format.kind !== 'image' || isImageFile(format, relative);
}
