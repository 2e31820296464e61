import type pg from 'pg';
import type { KeyRange } from '../../policies/batches.js';
import type { Batch } from './batch.js';
import { categoricalCount, featureCount } from './dataset-config.js';
import type { Dataset } from './datasets.js';
import { DataError } from './errors.js';
import { featureSource, type FeatureSource, type Pick, type StoredFile } from './formats/index.js';
import { heldOutSql, holdoutParams, type Holdout } from './holdout.js';
import { Limiter } from './limiter.js';
import { resolveInRoot } from './paths.js';
import { shuffledOrder } from './shuffle.js';

/** Rows of one keyset page, in key order: [sample_key, file_id, index_in_file, label, weight]. */
type Row = [number, number, number, number, number];

const EVAL_PAGE = 8192;
/** Default partition: about 32 MiB of decoded features, between 1Ki and 64Ki keys. */
const defaultPartitionSize = (features: number) => Math.max(1024, Math.min(65536, Math.floor(2 ** 23 / features)));

/**
 * How the loader reads a training set ahead of the trainer, as Modyn's num_prefetched_partitions and
 * parallel_prefetch_requests: `prefetchPartitions` partitions are loaded while the current one is
 * consumed (0: each partition is loaded when needed), with at most `parallelRequests` file reads in
 * flight. Neither changes which batches come out, only when they are ready; `partitionSize` does
 * (samples are shuffled within a partition), so a resumed run must use the same one.
 */
export interface LoaderOptions {
  partitionSize?: number;
  prefetchPartitions?: number;
  parallelRequests?: number;
}

/** A partition's rows and the chunks of its payloads, decoded in output order. */
interface LoadedPartition {
  rows: Row[];
  chunks: Chunk[];
}

/**
 * The trigger's training set as shuffled batches. Keys are read in partitions of `partitionSize`
 * (keyset pagination); each partition is shuffled with a PRNG seeded by (seed, epoch, partition
 * index), its payloads are read from the files, and batches are cut from the concatenated
 * partitions, so only the epoch's last batch can be short (dropped with dropLast). `skipBatches`
 * resumes an epoch: whole partitions before the resume point are not read at all, and skipped rows
 * of the partition it falls in are not decoded. The default partitionSize depends only on the
 * feature count, so a resumed run sees the same partitions.
 */
export async function* trainingBatches(
  pool: pg.Pool,
  dataset: Dataset,
  args: {
    pipelineId: number; triggerId: number; batchSize: number; seed: number; epoch: number; skipBatches?: number; dropLast?: boolean;
  } & LoaderOptions,
): AsyncGenerator<Batch> {
  const features = featureCount(dataset.format);
  const { pipelineId, triggerId, batchSize, seed, epoch } = args;
  const partitionSize = args.partitionSize ?? defaultPartitionSize(features);
  checkCount('batchSize', batchSize, 1);
  checkCount('partitionSize', partitionSize, 1);
  const ahead = checkCount('prefetchPartitions', args.prefetchPartitions ?? 1, 0);
  const requests = checkCount('parallelRequests', args.parallelRequests ?? 1, 1);
  let skip = checkCount('skipBatches', args.skipBatches ?? 0, 0) * batchSize;

  let partition = Math.floor(skip / partitionSize);
  let afterKey = 0;
  if (partition > 0) {
    // One index scan finds where the first partition still needed begins.
    const { rows } = await pool.query<{ sample_key: number }>(
      `SELECT sample_key FROM training_samples WHERE pipeline_id = $1 AND trigger_id = $2
       ORDER BY sample_key OFFSET $3 LIMIT 1`,
      [pipelineId, triggerId, partition * partitionSize - 1],
    );
    if (!rows[0]) return;
    afterKey = rows[0].sample_key;
    skip -= partition * partitionSize;
  }

  const payloads = new PayloadReader(pool, dataset, requests);
  const batches = new BatchAssembler(batchSize, features, categoricalCount(dataset.format));
  // A plain join the planner handles well with or without statistics (a freshly ingested dataset has none).
  const page = (after: number) =>
    pool.query<Row>({
      text: `SELECT t.sample_key, s.file_id, s.index_in_file, s.label, t.weight
             FROM training_samples t
             JOIN samples s ON s.dataset_id = $3 AND s.sample_key = t.sample_key
             WHERE t.pipeline_id = $1 AND t.trigger_id = $2 AND t.sample_key > $4
             ORDER BY t.sample_key LIMIT $5`,
      values: [pipelineId, triggerId, dataset.id, after, partitionSize],
      rowMode: 'array',
    }).then((result) => result.rows);
  const load = async (keys: Promise<Row[]>, index: number, skipRows: number): Promise<LoadedPartition | undefined> => {
    const rows = await keys;
    if (rows.length === 0) return undefined;
    const order = shuffledOrder(rows.length, seed, epoch, index).subarray(Math.min(skipRows, rows.length));
    return { rows, chunks: payloads.chunks(rows, order) };
  };

  // Keyset pages chain (each starts after the previous one's last key); payloads load in parallel.
  let keys = page(afterKey);
  const loading: Promise<LoadedPartition | undefined>[] = [];
  for (;;) {
    while (loading.length <= ahead) {
      const mine = keys;
      keys = prefetch(mine.then((rows) => (rows.length === partitionSize ? page(rows[rows.length - 1]![0]) : [])));
      loading.push(prefetch(load(mine, partition++, skip)));
      skip = 0;
    }
    const loaded = await loading.shift()!;
    if (!loaded) break;
    for (const chunk of loaded.chunks) yield* batches.add(await chunk.decoded, loaded.rows, chunk.order);
  }
  yield* batches.finish(args.dropLast ?? false);
}

export async function countTrainingSet(pool: pg.Pool, pipelineId: number, triggerId: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*) AS n FROM training_samples WHERE pipeline_id = $1 AND trigger_id = $2',
    [pipelineId, triggerId],
  );
  return rows[0]!.n;
}

/** Held-out samples with key in range, in key order, batches of batchSize, weight 1. */
export async function* evaluationBatches(
  pool: pg.Pool,
  dataset: Dataset,
  args: { range: KeyRange; holdout: Holdout; batchSize: number },
): AsyncGenerator<Batch> {
  const [seed, threshold] = holdoutParams(args.holdout);
  checkCount('batchSize', args.batchSize, 1);
  const payloads = new PayloadReader(pool, dataset, 1);
  const batches = new BatchAssembler(args.batchSize, featureCount(dataset.format), categoricalCount(dataset.format));
  let afterKey = args.range.firstKey - 1;
  for (;;) {
    const { rows } = await pool.query<Row>({
      text: `SELECT sample_key, file_id, index_in_file, label, 1
             FROM samples
             WHERE dataset_id = $1 AND sample_key > $2 AND sample_key <= $3 AND ${heldOutSql('sample_key', '$4', '$5')}
             ORDER BY sample_key LIMIT $6`,
      values: [dataset.id, afterKey, args.range.lastKey, seed, threshold, EVAL_PAGE],
      rowMode: 'array',
    });
    if (rows.length === 0) break;
    afterKey = rows[rows.length - 1]![0];
    const order = Uint32Array.from(rows.keys());
    yield* batches.add(await payloads.decode(rows, order), rows, order);
    if (rows.length < EVAL_PAGE) break;
  }
  yield* batches.finish(false);
}

export async function countHoldout(pool: pg.Pool, datasetId: number, range: KeyRange, holdout: Holdout): Promise<number> {
  const [seed, threshold] = holdoutParams(holdout);
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*) AS n FROM samples
     WHERE dataset_id = $1 AND sample_key BETWEEN $2 AND $3 AND ${heldOutSql('sample_key', '$4', '$5')}`,
    [datasetId, range.firstKey, range.lastKey, seed, threshold],
  );
  return rows[0]!.n;
}

/** Decoded payloads of consecutive rows: features, and categorical ids when the format has them. */
interface Decoded {
  x: Float32Array;
  c?: Int32Array;
}

/** Output rows order[...] of a partition and the promise of their payloads. */
interface Chunk {
  order: Uint32Array;
  decoded: Promise<Decoded>;
}

/** Reads the features of page rows from the dataset's files, caching file lookups per loader. */
class PayloadReader {
  private readonly files = new Map<number, Promise<StoredFile>>();
  private readonly source: FeatureSource;
  private readonly features: number;
  private readonly categories: number;
  private readonly requests: Limiter;

  constructor(
    private readonly pool: pg.Pool,
    private readonly dataset: Dataset,
    /**
     * File reads in flight across all partitions being loaded; a format that gains from overlapping reads
     * (one sample per file) raises it to its own `concurrency`.
     */
    parallelRequests: number,
  ) {
    this.source = featureSource(dataset.format);
    this.requests = new Limiter(Math.max(parallelRequests, this.source.concurrency ?? 1));
    this.features = featureCount(dataset.format);
    this.categories = categoricalCount(dataset.format);
  }

  /**
   * Payloads of rows[order[...]] in chunks of the source's chunkRows (default: all in one). Every chunk starts
   * loading now; the limiter serves their file reads in chunk order, so the first chunk is ready first.
   */
  chunks(rows: Row[], order: Uint32Array): Chunk[] {
    const size = this.source.chunkRows ?? Math.max(order.length, 1);
    const chunks: Chunk[] = [];
    for (let at = 0; at < order.length; at += size) {
      const part = order.subarray(at, at + size);
      chunks.push({ order: part, decoded: prefetch(this.decode(rows, part)) });
    }
    return chunks;
  }

  /** Payloads of rows[order[0]], rows[order[1]], ... as consecutive output rows. */
  async decode(rows: Row[], order: Uint32Array): Promise<Decoded> {
    const out = new Float32Array(order.length * this.features);
    const categorical = this.categories > 0 ? new Int32Array(order.length * this.categories) : undefined;
    // Picks are grouped by file in key order, which within a file mostly follows the record
    // index, so the sources' sort by index is close to linear and never stalls the event loop long.
    const outputRow = new Int32Array(rows.length).fill(-1);
    order.forEach((r, row) => (outputRow[r] = row));
    const byFile = new Map<number, Pick[]>();
    for (let r = 0; r < rows.length; r++) {
      if (outputRow[r]! < 0) continue;
      const fileId = rows[r]![1];
      let picks = byFile.get(fileId);
      if (!picks) byFile.set(fileId, (picks = []));
      picks.push({ index: rows[r]![2], row: outputRow[r]! });
    }
    this.lookUp([...byFile.keys()]);
    await Promise.all(
      [...byFile].map(([fileId, picks]) => this.requests.run(async () => this.source.read(await this.files.get(fileId)!, picks, out, categorical))),
    );
    return categorical ? { x: out, c: categorical } : { x: out };
  }

  /** Starts the lookup of files not seen yet by this loader, all in one query. */
  private lookUp(fileIds: number[]): void {
    const missing = fileIds.filter((id) => !this.files.has(id));
    if (missing.length === 0) return;
    const found = this.pool
      .query<{ file_id: number; path: string; size_bytes: number }>(
        'SELECT file_id, path, size_bytes FROM files WHERE file_id = ANY($1::bigint[]) AND dataset_id = $2',
        [missing, this.dataset.id],
      )
      .then(({ rows }) => new Map(rows.map((row) => [row.file_id, row])));
    for (const fileId of missing) {
      const file = (async () => {
        const row = (await found).get(fileId);
        if (!row) throw new DataError(`file ${fileId} of dataset ${this.dataset.name} is not registered`);
        // Re-resolved so that a symlink swapped in after ingestion cannot point outside the root.
        const { absolute, relative } = await resolveInRoot(this.dataset.root, row.path);
        return { fileId, absolute, relative, sizeBytes: row.size_bytes };
      })();
      this.files.set(fileId, prefetch(file));
    }
  }
}

/** Cuts a stream of decoded rows into batches of exactly `size`, carrying the rest to the next call. */
class BatchAssembler {
  private filled = 0;
  private current: Batch;

  constructor(
    private readonly size: number,
    private readonly features: number,
    private readonly categories: number,
  ) {
    this.current = this.empty();
  }

  /** Adds decoded payloads of rows[order[i]] (labels and weights come from the rows). */
  *add({ x, c }: Decoded, rows: Row[], order: Uint32Array): Generator<Batch> {
    const f = this.features;
    const n = this.categories;
    for (let i = 0; i < order.length; ) {
      const take = Math.min(order.length - i, this.size - this.filled);
      this.current.x.set(x.subarray(i * f, (i + take) * f), this.filled * f);
      if (n > 0) this.current.categorical!.set(c!.subarray(i * n, (i + take) * n), this.filled * n);
      for (let k = 0; k < take; k++) {
        const row = rows[order[i + k]!]!;
        this.current.y[this.filled + k] = row[3];
        this.current.w[this.filled + k] = row[4];
      }
      this.filled += take;
      i += take;
      if (this.filled === this.size) {
        yield this.current;
        this.current = this.empty();
        this.filled = 0;
      }
    }
  }

  /** The short last batch, unless dropped. */
  *finish(dropLast: boolean): Generator<Batch> {
    if (this.filled === 0 || dropLast) return;
    const n = this.filled;
    const { x, y, w, categorical } = this.current;
    const last: Batch = { x: x.slice(0, n * this.features), y: y.slice(0, n), w: w.slice(0, n), size: n, features: this.features };
    if (categorical) {
      last.categorical = categorical.slice(0, n * this.categories);
      last.categoricalCount = this.categories;
    }
    yield last;
  }

  private empty(): Batch {
    const batch: Batch = {
      x: new Float32Array(this.size * this.features),
      y: new Int32Array(this.size),
      w: new Float32Array(this.size),
      size: this.size,
      features: this.features,
    };
    // Formats without categorical fields keep the Batch shape they always had.
    if (this.categories > 0) {
      batch.categorical = new Int32Array(this.size * this.categories);
      batch.categoricalCount = this.categories;
    }
    return batch;
  }
}

/** Marks a promise whose result may never be awaited (the consumer stopped early) as handled. */
function prefetch<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function checkCount(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new DataError(`${name} must be an integer >= ${min}, got ${value}`);
  return value;
}
