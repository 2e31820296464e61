import type pg from 'pg';
import type { KeyRange } from '../../policies/batches.js';
import { copyOut } from '../db/copy-out.js';
import { inTransaction } from '../db/transaction.js';
import type { Batch } from './batch.js';
import { float32Batch, int32Batch } from './batch-buffers.js';
import { categoricalCount, featureCount } from './dataset-config.js';
import type { Dataset } from './datasets.js';
import { DataError } from './errors.js';
import { FileRows } from './file-rows.js';
import { heldOutSql, holdoutParams, type Holdout } from './holdout.js';
import { PayloadReader, type Chunk, type Decoded } from './payload-reader.js';
import { prefetch } from './prefetch.js';
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
/**
 * A training page whose blocks' keys span at most this many times their rows is read with nested loops off. Without
 * statistics (a freshly ingested dataset and a training set just written have none, so every key range looks like
 * one row) the planner joins a block with a nested loop that rescans the block's samples for every training row:
 * 20-30 ms of the server's CPU for a page of 1024 images, 1 ms as a merge or hash join of the two ranges (a page of
 * 16384 Criteo rows: 35-65 ms, 11-14 ms). Where the training rows are sparse among the samples of their range,
 * looking each one up can beat reading the range whole, so such pages are planned as before.
 */
const DENSE_SPAN = 8;
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
export function trainingBatches(pool: pg.Pool, dataset: Dataset, args: TrainingBatchesArgs): AsyncGenerator<Batch> {
  return epochBatches(pool, dataset, args, new FileRows(pool, dataset.id), () => {});
}

export type TrainingBatchesArgs = {
  pipelineId: number; triggerId: number; batchSize: number; seed: number; epoch: number; skipBatches?: number; dropLast?: boolean;
  /** A sample-then-batch round: its samples (downsampled_samples) with their weights instead of the training set. */
  round?: number;
} & LoaderOptions;

/**
 * Epochs `epoch` to endEpoch - 1 of trainingBatches back to back (resumed at `skipBatches` in the first), as training
 * reads them, each epoch's start overlapped with the end of the one before: once an epoch has started loading its
 * last partition, the next finds its blocks and loads its first partitions. Started only at the end of the epoch
 * before, an epoch keeps the trainer waiting for its first batch through that chain of queries: 20-180 ms per epoch
 * on the 2-core development machine under load, against 2 steps of 35 ms in flight.
 */
export async function* trainingEpochs(pool: pg.Pool, dataset: Dataset, args: TrainingBatchesArgs & { endEpoch: number }): AsyncGenerator<Batch> {
  const { endEpoch, ...first } = args;
  const files = new FileRows(pool, dataset.id);
  interface Started {
    epoch: number;
    batches: AsyncGenerator<Batch>;
    first: Promise<IteratorResult<Batch>>;
    /** Whether it has started loading its last partition. */
    lastLoading(): boolean;
  }
  const start = (epoch: number, skipBatches: number): Started | undefined => {
    if (epoch >= endEpoch) return undefined;
    let lastLoading = false;
    const batches = epochBatches(pool, dataset, { ...first, epoch, skipBatches }, files, () => (lastLoading = true));
    return { epoch, batches, first: prefetch(batches.next()), lastLoading: () => lastLoading };
  };
  let current = start(first.epoch, first.skipBatches ?? 0);
  // Only the epoch being read starts the next: one started ahead does not start a third.
  let following: Started | undefined;
  try {
    while (current) {
      let any = false;
      for (let next = await current.first; !next.done; next = await current.batches.next()) {
        if (current.lastLoading()) following ??= start(current.epoch + 1, 0);
        any = true;
        yield next.value;
      }
      // A whole epoch without a batch: every epoch reads the same set.
      if (!any && current.epoch > first.epoch) return;
      [current, following] = [following ?? start(current.epoch + 1, 0), undefined];
    }
  } finally {
    // Stopped early: the epoch being read, and the one started after it, stop loading.
    for (const started of [current, following]) if (started) void prefetch(started.batches.return(undefined));
  }
}

/** trainingBatches, with the file rows it reads in `files`; `lastLoad` is called once it has started loading its last partition. */
async function* epochBatches(
  pool: pg.Pool, dataset: Dataset, args: TrainingBatchesArgs, files: FileRows, lastLoad: () => void,
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
  const payloads = new PayloadReader(dataset, files, requests, batchSize);
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
  /** `position`: the rows this call yields before the partition's first, which places its batch boundaries. */
  const load = async (partition: number, skipRows: number, position: number): Promise<LoadedPartition> => {
    const length = order.partitionLength(partition);
    const blocks = order.blocksOf(partition);
    // The last block's span is unknown (no start follows it): the partition's other blocks tell.
    const dense = blocks.every((b) => b + 1 >= starts.length || starts[b + 1]! - starts[b]! <= DENSE_SPAN * order.blockLength(b));
    const page = await readPage(pool, `${Array.from(blocks, blockSql).join(' UNION ALL ')} ORDER BY 1`, length, dense);
    // The partitions' lengths, and so where a resumed epoch starts, assume the rows found by blockStarts.
    if (page.length < length) throw new DataError(`${set.name} changed while it was read: partition ${partition} has ${page.length} of ${length} samples`);
    const rows = shuffledOrder(page.length, seed, epoch, partition).subarray(skipRows);
    return { page, chunks: payloads.chunks(page, rows, position) };
  };

  // Partitions load independently: `ahead` of them, their payloads in parallel, while one is consumed.
  let { partition: next, offset } = order.locate(skip);
  let position = 0;
  const loading: Promise<LoadedPartition>[] = [];
  if (next >= order.partitions) lastLoad();
  while (loading.length > 0 || next < order.partitions) {
    while (loading.length <= ahead && next < order.partitions) {
      loading.push(prefetch(load(next, offset, position)));
      position += order.partitionLength(next++) - offset;
      offset = 0;
      if (next === order.partitions) lastLoad();
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
  const payloads = new PayloadReader(dataset, new FileRows(pool, dataset.id), 1, args.batchSize);
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
    yield* batches.add(await payloads.decodeAll(page, order), page, order);
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
  const payloads = new PayloadReader(dataset, new FileRows(pool, dataset.id), 1, args.batchSize);
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
    yield* batches.add(await payloads.decodeAll(page, order), page, order);
  }
  yield* batches.finish(false);
}

/** Cuts a stream of decoded rows into batches of exactly `size`, carrying the rest to the next call. */
class BatchAssembler {
  private filled = 0;
  /** The batch being filled; none between batches. */
  private current: Batch | undefined;

  constructor(
    private readonly size: number,
    private readonly features: number,
    private readonly categories: number,
  ) {}

  /**
   * Adds decoded payloads of page rows order[i] (labels and weights come from the page). Payloads of exactly one
   * batch, added between batches, become that batch's buffers: the trainer receives them without a copy.
   */
  *add({ x, c }: Decoded, page: KeyPage, order: Uint32Array): Generator<Batch> {
    const f = this.features;
    const n = this.categories;
    for (let i = 0; i < order.length; ) {
      const take = Math.min(order.length - i, this.size - this.filled);
      const whole = take === order.length && take === this.size;
      const batch = this.current ??= whole ? this.empty(x, c) : this.empty();
      if (!whole) {
        batch.x.set(x.subarray(i * f, (i + take) * f), this.filled * f);
        if (n > 0) batch.categorical!.set(c!.subarray(i * n, (i + take) * n), this.filled * n);
      }
      for (let k = 0; k < take; k++) {
        const row = order[i + k]!;
        batch.y[this.filled + k] = page.labels[row]!;
        batch.w[this.filled + k] = page.weights[row]!;
        batch.keys![this.filled + k] = page.keys[row]!;
      }
      this.filled += take;
      i += take;
      if (this.filled === this.size) {
        yield batch;
        this.current = undefined;
        this.filled = 0;
      }
    }
  }

  /** The short last batch, unless dropped. */
  *finish(dropLast: boolean): Generator<Batch> {
    if (this.filled === 0 || dropLast) return;
    const n = this.filled;
    const { x, y, w, categorical, keys } = this.current!;
    const last: Batch = {
      x: x.slice(0, n * this.features), y: y.slice(0, n), w: w.slice(0, n), size: n, features: this.features, keys: keys!.slice(0, n),
    };
    if (categorical) {
      last.categorical = categorical.slice(0, n * this.categories);
      last.categoricalCount = this.categories;
    }
    yield last;
  }

  /** A batch to fill; `x` and `c`, when given, are its features and categorical ids already. */
  private empty(x: Float32Array = float32Batch(this.size * this.features), c?: Int32Array): Batch {
    const batch: Batch = {
      x,
      y: new Int32Array(this.size),
      w: new Float32Array(this.size),
      size: this.size,
      features: this.features,
      keys: new Float64Array(this.size),
    };
    // Formats without categorical fields keep the Batch shape they always had.
    if (this.categories > 0) {
      batch.categorical = c ?? int32Batch(this.size * this.categories);
      batch.categoricalCount = this.categories;
    }
    return batch;
  }
}

/** The first `capacity` rows of a page query (columns as PAGE_COLUMNS); `rangeJoins`: planned without nested loops. */
async function readPage(pool: pg.Pool, query: string, capacity: number, rangeJoins = false): Promise<KeyPage> {
  const { length, columns: [keys, fileIds, indexes, labels, weights] } = rangeJoins
    ? await inTransaction(pool, async (client) => {
      await client.query('SET LOCAL enable_nestloop = off');
      return copyOut(client, query, PAGE_COLUMNS, capacity);
    })
    : await copyOut(pool, query, PAGE_COLUMNS, capacity);
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
