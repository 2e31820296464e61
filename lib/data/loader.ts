import type pg from 'pg';
import type { KeyRange } from '../../policies/batches.js';
import { copyOut } from '../db/copy-out.js';
import { inTransaction } from '../db/transaction.js';
import type { Batch } from './batch.js';
import { categoricalCount, featureCount } from './dataset-config.js';
import type { Dataset } from './datasets.js';
import { DataError } from './errors.js';
import { featureSource, picksOf, type FeatureSource, type Picks, type StoredFile } from './formats/index.js';
import { heldOutSql, holdoutParams, type Holdout } from './holdout.js';
import { Limiter } from './limiter.js';
import { resolveInRoot } from './paths.js';
import { blockSize, EpochOrder, shuffledOrder } from './shuffle.js';

/** Rows of one keyset page in key order, column by column (read with binary COPY: no object per row). */
interface KeyPage {
  length: number;
  keys: Float64Array;
  fileIds: Float64Array;
  indexes: Int32Array;
  labels: Int32Array;
  weights: Float32Array;
}

/** Wire types of a page query's columns: sample_key, file_id, index_in_file, label, weight. */
const PAGE_COLUMNS = ['int8', 'int8', 'int4', 'int4', 'float4'] as const;

const EVAL_PAGE = 8192;
/** Default partition: about 32 MiB of decoded features, between 1Ki and 64Ki keys. */
const defaultPartitionSize = (features: number) => Math.max(1024, Math.min(65536, Math.floor(2 ** 23 / features)));

/**
 * How the loader reads a training set ahead of the trainer, as Modyn's num_prefetched_partitions and
 * parallel_prefetch_requests: `prefetchPartitions` partitions are loaded while the current one is
 * consumed (0: each partition is loaded when needed), with at most `parallelRequests` file reads in
 * flight. Neither changes which batches come out, only when they are ready; `partitionSize` does
 * (it sets the blocks that the epoch permutes and the partitions that are shuffled, see trainingBatches),
 * so a resumed run must use the same one.
 */
export interface LoaderOptions {
  partitionSize?: number;
  prefetchPartitions?: number;
  parallelRequests?: number;
}

/** The rows an epoch reads (alias t, with sample_key and weight): a table and the condition that picks them. */
interface RowSet {
  table: 'training_samples' | 'downsampled_samples';
  where: string;
  /** For messages. */
  name: string;
}

/** A partition's rows and the chunks of its payloads, decoded in output order. */
interface LoadedPartition {
  page: KeyPage;
  chunks: Chunk[];
}

/**
 * The trigger's training set (or, with `round`, the samples a sample-then-batch round chose from it) as
 * batches in an order shuffled across the whole set. The set is cut into blocks of partitionSize /
 * BLOCKS_PER_PARTITION consecutive keys (one walk over the primary key finds where each begins); the epoch
 * permutes the blocks with a PRNG seeded by (seed, epoch), and each partition gathers the next
 * BLOCKS_PER_PARTITION blocks of that order, reads each as an index range scan, shuffles their rows together
 * (seeded by seed, epoch and the partition's index) and reads their payloads from the files. Batches are cut
 * from the concatenated partitions, so every batch mixes regions from all over the set (old and new data),
 * every sample comes once per epoch, and only the epoch's last batch can be short (dropped with dropLast).
 * The loader holds `prefetchPartitions` + 1 partitions of about partitionSize rows, and two numbers per
 * block. `skipBatches` resumes an epoch: whole partitions before the resume point are not read at all, and
 * skipped rows of the partition it falls in are not decoded. The order depends only on (seed, epoch, the
 * rows, partitionSize), and the default partitionSize only on the feature count, so a resumed run sees the
 * same batches.
 */
export async function* trainingBatches(
  pool: pg.Pool,
  dataset: Dataset,
  args: {
    pipelineId: number; triggerId: number; batchSize: number; seed: number; epoch: number; skipBatches?: number; dropLast?: boolean;
    /** A sample-then-batch round: its samples (downsampled_samples) with their weights instead of the training set. */
    round?: number;
  } & LoaderOptions,
): AsyncGenerator<Batch> {
  const features = featureCount(dataset.format);
  const { pipelineId, triggerId, batchSize, seed, epoch } = args;
  const partitionSize = args.partitionSize ?? defaultPartitionSize(features);
  checkCount('batchSize', batchSize, 1);
  checkCount('partitionSize', partitionSize, 1);
  const ahead = checkCount('prefetchPartitions', args.prefetchPartitions ?? 1, 0);
  const requests = checkCount('parallelRequests', args.parallelRequests ?? 1, 1);
  const skip = checkCount('skipBatches', args.skipBatches ?? 0, 0) * batchSize;
  const ofTrigger = `t.pipeline_id = ${sqlInt('pipelineId', pipelineId)} AND t.trigger_id = ${sqlInt('triggerId', triggerId)}`;
  const set: RowSet = args.round === undefined
    ? { table: 'training_samples', where: ofTrigger, name: `the training set of pipeline ${pipelineId} trigger ${triggerId}` }
    : { table: 'downsampled_samples', where: `${ofTrigger} AND t.round = ${sqlInt('round', args.round)}`, name: `round ${args.round} of pipeline ${pipelineId} trigger ${triggerId}` };

  const keysPerBlock = blockSize(partitionSize);
  const { starts, size } = await blockStarts(pool, set, keysPerBlock);
  const order = new EpochOrder(size, keysPerBlock, seed, epoch);
  const payloads = new PayloadReader(pool, dataset, requests);
  const batches = new BatchAssembler(batchSize, features, categoricalCount(dataset.format));
  // Each block is a plain join of two index range scans, with or without statistics (a freshly ingested dataset
  // has none): the key bounds are stated for both tables, as the planner does not carry a range across the join
  // (a merge join would otherwise scan the dataset's samples from its first key). The partition's blocks come
  // in one statement, merged in key order.
  const blockSql = (block: number) => {
    const range = (table: string) => `${table}.sample_key >= ${starts[block]}${block + 1 < starts.length ? ` AND ${table}.sample_key < ${starts[block + 1]}` : ''}`;
    return `SELECT t.sample_key, s.file_id, s.index_in_file, s.label, t.weight
            FROM ${set.table} t
            JOIN samples s ON s.dataset_id = ${sqlInt('dataset id', dataset.id)} AND s.sample_key = t.sample_key AND ${range('s')}
            WHERE ${set.where} AND ${range('t')}`;
  };
  const load = async (partition: number, skipRows: number): Promise<LoadedPartition> => {
    const length = order.partitionLength(partition);
    const page = await readPage(pool, `${Array.from(order.blocksOf(partition), blockSql).join(' UNION ALL ')} ORDER BY 1`, length);
    // The partitions' lengths, and so where a resumed epoch starts, assume the rows found by blockStarts.
    if (page.length < length) throw new DataError(`${set.name} changed while it was read: partition ${partition} has ${page.length} of ${length} samples`);
    const rows = shuffledOrder(page.length, seed, epoch, partition).subarray(skipRows);
    return { page, chunks: payloads.chunks(page, rows) };
  };

  // Partitions load independently: `ahead` of them, their payloads in parallel, while one is consumed.
  let { partition: next, offset } = order.locate(skip);
  const loading: Promise<LoadedPartition>[] = [];
  while (loading.length > 0 || next < order.partitions) {
    while (loading.length <= ahead && next < order.partitions) {
      loading.push(prefetch(load(next++, offset)));
      offset = 0;
    }
    const loaded = await loading.shift()!;
    for (const chunk of loaded.chunks) yield* batches.add(await chunk.decoded, loaded.page, chunk.order);
  }
  yield* batches.finish(args.dropLast ?? false);
}

/**
 * The first key of every block of a training set (every blockSize-th key in key order) and the set's size. One
 * statement walks the primary key: each step skips blockSize entries of an index scan, so only the block starts
 * come back, and the last block is counted. Sorts and bitmap scans are off for it: without statistics (a
 * training set just written has none) the planner would sort the whole set at every step.
 */
function blockStarts(pool: pg.Pool, set: RowSet, blockSize: number): Promise<{ starts: Float64Array; size: number }> {
  const rows = `FROM ${set.table} t WHERE ${set.where}`;
  return inTransaction(pool, async (client) => {
    await client.query('SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off');
    const walk = await client.query<[number]>({
      text: `WITH RECURSIVE block(start) AS (
               (SELECT t.sample_key ${rows} ORDER BY t.sample_key LIMIT 1)
               UNION ALL
               SELECT (SELECT t.sample_key ${rows} AND t.sample_key > block.start ORDER BY t.sample_key OFFSET $1 - 1 LIMIT 1)
               FROM block WHERE block.start IS NOT NULL
             )
             SELECT start FROM block WHERE start IS NOT NULL`,
      values: [blockSize],
      rowMode: 'array',
    });
    const starts = Float64Array.from(walk.rows, ([key]) => Number(key));
    if (starts.length === 0) return { starts, size: 0 };
    const last = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT 1 ${rows} AND t.sample_key >= $1 ORDER BY t.sample_key LIMIT $2) last`,
      [starts.at(-1), blockSize],
    );
    return { starts, size: (starts.length - 1) * blockSize + last.rows[0]!.n };
  });
}

export async function countTrainingSet(pool: pg.Pool, pipelineId: number, triggerId: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*) AS n FROM training_samples WHERE pipeline_id = $1 AND trigger_id = $2',
    [pipelineId, triggerId],
  );
  return rows[0]!.n;
}

/** Samples with key in range (only held-out ones, unless `holdout` is null), in key order, batches of batchSize, weight 1. */
export async function* evaluationBatches(
  pool: pg.Pool,
  dataset: Dataset,
  args: {
    range: KeyRange;
    /** Only the dataset's held-out samples; null: every sample (a separate evaluation dataset). */
    holdout: Holdout | null;
    batchSize: number;
    /** Only samples whose timestamp lies in [startTs, endTs): an evaluation interval in sample time. */
    time?: { startTs: number; endTs: number };
  },
): AsyncGenerator<Batch> {
  checkCount('batchSize', args.batchSize, 1);
  const conditions = [];
  if (args.holdout) {
    const [seed, threshold] = holdoutParams(args.holdout);
    conditions.push(heldOutSql('sample_key', String(seed), String(threshold)));
  }
  if (args.time) conditions.push(`ts >= ${sqlInt('time.startTs', args.time.startTs)} AND ts < ${sqlInt('time.endTs', args.time.endTs)}`);
  const payloads = new PayloadReader(pool, dataset, 1);
  const batches = new BatchAssembler(args.batchSize, featureCount(dataset.format), categoricalCount(dataset.format));
  let afterKey = sqlInt('range.firstKey', args.range.firstKey) - 1;
  const lastKey = sqlInt('range.lastKey', args.range.lastKey);
  for (;;) {
    const page = await readPage(pool, `SELECT sample_key, file_id, index_in_file, label, 1::real
                                       FROM samples
                                       WHERE dataset_id = ${sqlInt('dataset id', dataset.id)} AND sample_key > ${afterKey} AND sample_key <= ${lastKey}
                                         ${conditions.map((c) => `AND ${c}`).join(' ')}
                                       ORDER BY sample_key LIMIT ${EVAL_PAGE}`, EVAL_PAGE);
    if (page.length === 0) break;
    afterKey = page.keys[page.length - 1]!;
    const order = Uint32Array.from({ length: page.length }, (_, i) => i);
    yield* batches.add(await payloads.decode(page, order), page, order);
    if (page.length < EVAL_PAGE) break;
  }
  yield* batches.finish(false);
}

/**
 * The keys of a dataset's samples that may lie in [startTs, endTs), from its files' key and time spans (a file
 * spans both contiguously): where an interval in sample time is read, without an index on timestamps. Null when
 * no file overlaps it.
 */
export async function keysOverlapping(pool: pg.Pool, datasetId: number, startTs: number, endTs: number): Promise<KeyRange | null> {
  const { rows } = await pool.query(
    `SELECT min(first_key) AS first_key, max(last_key) AS last_key FROM files
      WHERE dataset_id = $1 AND num_samples > 0 AND max_ts >= $2 AND min_ts < $3`,
    [datasetId, startTs, endTs],
  );
  return rows[0].first_key === null ? null : { firstKey: Number(rows[0].first_key), lastKey: Number(rows[0].last_key) };
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

/**
 * The samples with the given keys (ascending, no repeats), in key order, batches of batchSize, weight 1: a
 * measurement's window or subsample. Keys are read in pages of EVAL_PAGE, inlined into the page query; a key the
 * dataset does not hold is a DataError naming it.
 */
export async function* keyedBatches(
  pool: pg.Pool,
  dataset: Dataset,
  args: { keys: ArrayLike<number>; batchSize: number },
): AsyncGenerator<Batch> {
  const { keys } = args;
  checkCount('batchSize', args.batchSize, 1);
  const payloads = new PayloadReader(pool, dataset, 1);
  const batches = new BatchAssembler(args.batchSize, featureCount(dataset.format), categoricalCount(dataset.format));
  const datasetId = sqlInt('dataset id', dataset.id);
  for (let at = 0; at < keys.length; at += EVAL_PAGE) {
    const wanted = Array.from({ length: Math.min(EVAL_PAGE, keys.length - at) }, (_, i) => sqlInt('key', keys[at + i]!));
    for (let i = 1; i < wanted.length; i++) {
      if (wanted[i]! <= wanted[i - 1]!) throw new DataError(`keys must ascend without repeats: ${wanted[i]} follows ${wanted[i - 1]}`);
    }
    // The key bounds let the planner use the primary key's range before matching the list.
    const page = await readPage(pool, `SELECT sample_key, file_id, index_in_file, label, 1::real
                                       FROM samples
                                       WHERE dataset_id = ${datasetId} AND sample_key BETWEEN ${wanted[0]} AND ${wanted.at(-1)}
                                         AND sample_key = ANY('{${wanted.join(',')}}'::bigint[])
                                       ORDER BY sample_key`, wanted.length);
    if (page.length < wanted.length) {
      const missing = wanted.find((key, i) => page.keys[i] !== key);
      throw new DataError(`dataset ${dataset.name} holds no sample with key ${missing} (${wanted.length - page.length} of ${wanted.length} keys missing)`);
    }
    const order = Uint32Array.from({ length: page.length }, (_, i) => i);
    yield* batches.add(await payloads.decode(page, order), page, order);
  }
  yield* batches.finish(false);
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
   * Payloads of page rows order[...] in chunks of the source's chunkRows (default: all in one). Every chunk starts
   * loading now; the limiter serves their file reads in chunk order, so the first chunk is ready first.
   */
  chunks(page: KeyPage, order: Uint32Array): Chunk[] {
    const size = this.source.chunkRows ?? Math.max(order.length, 1);
    const chunks: Chunk[] = [];
    for (let at = 0; at < order.length; at += size) {
      const part = order.subarray(at, at + size);
      chunks.push({ order: part, decoded: prefetch(this.decode(page, part)) });
    }
    return chunks;
  }

  /** Payloads of page rows order[0], order[1], ... as consecutive output rows. */
  async decode(page: KeyPage, order: Uint32Array): Promise<Decoded> {
    const out = new Float32Array(order.length * this.features);
    const categorical = this.categories > 0 ? new Int32Array(order.length * this.categories) : undefined;
    const byFile = picksByFile(page, order);
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

/**
 * The picks of page rows order[0], order[1], ... (output rows 0, 1, ...) grouped by file. A file's samples have
 * consecutive keys in record order, so in the key-ordered page each file's rows form one run, already in record
 * order: its picks are views of two arrays filled in one pass. A file met again later is merged and sorted.
 */
function picksByFile(page: KeyPage, order: Uint32Array): Map<number, Picks> {
  const outputRow = new Int32Array(page.length).fill(-1);
  for (let row = 0; row < order.length; row++) outputRow[order[row]!] = row;
  const indexes = new Int32Array(order.length);
  const rows = new Int32Array(order.length);
  const byFile = new Map<number, Picks>();
  let n = 0;
  let runStart = 0;
  let runFile = -1;
  const endRun = () => {
    if (n === runStart) return;
    const run = { indexes: indexes.subarray(runStart, n), rows: rows.subarray(runStart, n) };
    const earlier = byFile.get(runFile);
    byFile.set(runFile, earlier || !ascending(run.indexes) ? merged(earlier, run) : run);
    runStart = n;
  };
  for (let r = 0; r < page.length; r++) {
    if (outputRow[r]! < 0) continue;
    if (page.fileIds[r] !== runFile) {
      endRun();
      runFile = page.fileIds[r]!;
    }
    indexes[n] = page.indexes[r]!;
    rows[n++] = outputRow[r]!;
  }
  endRun();
  return byFile;
}

function ascending(values: Int32Array): boolean {
  for (let i = 1; i < values.length; i++) if (values[i]! < values[i - 1]!) return false;
  return true;
}

function merged(a: Picks | undefined, b: Picks): Picks {
  const pairs = [a, b].flatMap((p) => (p ? Array.from(p.indexes, (index, k) => ({ index, row: p.rows[k]! })) : []));
  return picksOf(pairs);
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

  /** Adds decoded payloads of page rows order[i] (labels and weights come from the page). */
  *add({ x, c }: Decoded, page: KeyPage, order: Uint32Array): Generator<Batch> {
    const f = this.features;
    const n = this.categories;
    for (let i = 0; i < order.length; ) {
      const take = Math.min(order.length - i, this.size - this.filled);
      this.current.x.set(x.subarray(i * f, (i + take) * f), this.filled * f);
      if (n > 0) this.current.categorical!.set(c!.subarray(i * n, (i + take) * n), this.filled * n);
      for (let k = 0; k < take; k++) {
        const row = order[i + k]!;
        this.current.y[this.filled + k] = page.labels[row]!;
        this.current.w[this.filled + k] = page.weights[row]!;
        this.current.keys![this.filled + k] = page.keys[row]!;
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
    const last: Batch = {
      x: x.slice(0, n * this.features), y: y.slice(0, n), w: w.slice(0, n), size: n, features: this.features, keys: this.current.keys!.slice(0, n),
    };
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
      keys: new Float64Array(this.size),
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

/** The first `capacity` rows of a page query (columns as PAGE_COLUMNS). */
async function readPage(pool: pg.Pool, query: string, capacity: number): Promise<KeyPage> {
  const { length, columns: [keys, fileIds, indexes, labels, weights] } = await copyOut(pool, query, PAGE_COLUMNS, capacity);
  return { length, keys, fileIds, indexes, labels, weights };
}

/** A value inlined into a page query (COPY takes no parameters): only a safe integer gets in. */
function sqlInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value)) throw new DataError(`${name} must be an integer, got ${value}`);
  return value;
}

function checkCount(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new DataError(`${name} must be an integer >= ${min}, got ${value}`);
  return value;
}
