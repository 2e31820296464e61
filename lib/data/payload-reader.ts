import path from 'node:path';
import { float32Batch, int32Batch } from './batch-buffers.js';
import { picksByChunk, type PageFiles } from './chunk-picks.js';
import { categoricalCount, featureCount } from './dataset-config.js';
import type { Dataset } from './datasets.js';
import { DataError } from './errors.js';
import { featureSource, type FeatureSource, type Picks, type StoredFile } from './formats/index.js';
import type { FileRow, FileRows } from './file-rows.js';
import { Limiter } from './limiter.js';
import { isInside, resolveInRoot, type ResolvedPath } from './paths.js';
import { prefetch } from './prefetch.js';

/** Decoded payloads of consecutive rows: features, and categorical ids when the format has them. */
export interface Decoded {
  x: Float32Array;
  c?: Int32Array;
}

/** Output rows order[...] of a partition and the promise of their payloads. */
export interface Chunk {
  order: Uint32Array;
  decoded: Promise<Decoded>;
}

/** Reads the features of page rows from the dataset's files. */
export class PayloadReader {
  /** Files resolved in the root, each when first read. */
  private readonly resolved = new Map<number, Promise<StoredFile>>();
  /** For a source that checksPaths: files placed in the root lexically, each when first read. */
  private readonly placed = new Map<number, StoredFile>();
  /** Settles a turn of the event loop after the chunk before (see decode). */
  private turn: Promise<void> = Promise.resolve();
  /** The dataset root as resolveInRoot gives paths in it. */
  private readonly root: string;
  private readonly source: FeatureSource;
  private readonly features: number;
  private readonly categories: number;
  private readonly requests: Limiter;

  constructor(
    private readonly dataset: Dataset,
    private readonly files: FileRows,
    /**
     * File reads in flight across all partitions being loaded; a format that gains from overlapping reads
     * (one sample per file) raises it to its own `concurrency`.
     */
    parallelRequests: number,
    private readonly batchSize: number,
  ) {
    this.root = path.resolve(dataset.root);
    this.source = featureSource(dataset.format);
    this.requests = new Limiter(Math.max(parallelRequests, this.source.concurrency ?? 1));
    this.features = featureCount(dataset.format);
    this.categories = categoricalCount(dataset.format);
  }

  /**
   * Payloads of page rows order[...], the partition's output rows, which follow `position` rows of the loader's
   * output, in chunks of the source's chunkRows (default: all in one), each ending where one of the loader's
   * batches does. Every chunk starts loading now; the limiter serves their file reads in chunk order, so the first
   * chunk is ready first.
   */
  chunks(page: PageFiles, order: Uint32Array, position: number): Chunk[] {
    const starts = [0];
    const size = this.source.chunkRows;
    if (size !== undefined) {
      // A chunk from `at` ends at the first batch boundary at least `size` rows in.
      const end = (at: number) => Math.ceil((position + at + size) / this.batchSize) * this.batchSize - position;
      for (let at = end(0); at < order.length; at = end(at)) starts.push(at);
    }
    const picks = picksByChunk(page, order, starts);
    // The first chunk's files on their own: its batch waits for the lookup of a batch's files, not a partition's.
    this.files.lookUp(picks[0]!.keys());
    this.files.lookUp(picks.slice(1).flatMap((byFile) => [...byFile.keys()]));
    return picks.map((byFile, k) => {
      const rows = order.subarray(starts[k], starts[k + 1] ?? order.length);
      return { order: rows, decoded: prefetch(this.decode(byFile, rows.length)) };
    });
  }

  /** Payloads of page rows order[0], order[1], ... as consecutive output rows, in one piece. */
  decodeAll(page: PageFiles, order: Uint32Array): Promise<Decoded> {
    const byFile = picksByChunk(page, order, [0])[0]!;
    this.files.lookUp(byFile.keys());
    return this.decode(byFile, order.length);
  }

  /**
   * Reads the picks into fresh arrays of `length` rows. Reads a source serves from memory (readNow) take no request
   * slot, and each chunk's are served in a turn of the event loop of its own, one chunk after the other: the chunks a
   * partition starts do not hold the loop (and the trainer's messages) all at once.
   */
  private async decode(byFile: Map<number, Picks>, length: number): Promise<Decoded> {
    await this.files.ready(byFile.keys());
    const { source } = this;
    if (source.readNow) await (this.turn = this.turn.then(() => new Promise((resolve) => setImmediate(resolve))));
    const out = float32Batch(length * this.features);
    const categorical = this.categories > 0 ? int32Batch(length * this.categories) : undefined;
    const reads: Promise<void>[] = [];
    for (const [fileId, picks] of byFile) {
      const row = this.files.get(fileId);
      if (!row) throw new DataError(`file ${fileId} of dataset ${this.dataset.name} is not registered`);
      if (source.checksPaths) {
        const file = this.placedFile(fileId, row);
        if (!source.readNow?.(file, picks, out, categorical)) reads.push(this.requests.run(() => source.read(file, picks, out, categorical)));
      } else {
        reads.push(this.requests.run(async () => source.read(await this.resolvedFile(fileId, row), picks, out, categorical)));
      }
    }
    await Promise.all(reads);
    return categorical ? { x: out, c: categorical } : { x: out };
  }

  private placedFile(fileId: number, row: FileRow): StoredFile {
    let file = this.placed.get(fileId);
    if (!file) {
      const { absolute, relative } = lexicallyInRoot(this.root, row.path);
      file = { fileId, root: this.dataset.root, absolute, relative, sizeBytes: row.size_bytes };
      this.placed.set(fileId, file);
    }
    return file;
  }

  /** A file resolved in the root when first read, so that a symlink swapped in after ingestion cannot point outside it. */
  private resolvedFile(fileId: number, row: FileRow): Promise<StoredFile> {
    let file = this.resolved.get(fileId);
    if (!file) {
      file = resolveInRoot(this.dataset.root, row.path).then(({ absolute, relative }) => ({ fileId, root: this.dataset.root, absolute, relative, sizeBytes: row.size_bytes }));
      this.resolved.set(fileId, file);
    }
    return file;
  }
}

/** A root-relative path not as ingestion stores it ("/"-separated names, none of them "." or ".."). */
const NOT_STORED_FORM = /^\/|\/$|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/**
 * `file` (absolute, or relative to `root`, a resolved path) in the root as resolveInRoot places it, without following
 * symlinks. A path in the form ingestion stores is joined to the root as it is: the general route costs two path
 * normalizations per image and epoch.
 */
function lexicallyInRoot(root: string, file: string): ResolvedPath {
  if (path.sep === '/' && file !== '' && !NOT_STORED_FORM.test(file)) return { absolute: root.endsWith('/') ? root + file : `${root}/${file}`, relative: file };
  const absolute = path.resolve(root, file);
  const relative = path.relative(root, absolute);
  if (!isInside(relative)) throw new DataError(`${file}: outside the dataset root ${root}`);
  return { absolute, relative: relative.split(path.sep).join('/') };
}
