/**
 * The scoring pass of sample-then-batch downsampling: the trigger's training set in key order, chunk by chunk,
 * through the model's inference graph with the weights of the state being trained, reading samples through the
 * loader and running sessions in a worker thread (two runs in flight, so reading overlaps inference).
 */
import type pg from 'pg';
import type { Dataset } from '../data/datasets.js';
import { keyedBatches } from '../data/loader.js';
import { copyOut } from '../db/copy-out.js';
import { batchInputs, inputFeeds } from '../onnx/batch-feeds.js';
import { buildInference } from '../onnx/models/build.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import type { SessionHost } from '../onnx/session-host.js';
import type { Needs, ScoredSamples } from './downsampling/index.js';
import type { ModelState } from './model-state.js';

export interface ScoredChunk {
  /** Training-set keys, ascending; row i of `samples` is keys[i]. */
  keys: Float64Array;
  /** Only the count when the strategy needs no forward pass. */
  samples: ScoredSamples | Pick<ScoredSamples, 'n'>;
}

export interface ScoringPassArgs {
  pipelineId: number;
  triggerId: number;
  model: ModelDefinition;
  state: ModelState;
  /** What the strategy needs: no forward pass at all ('nothing': keys only), outputs, or embeddings too. */
  needs: Needs;
  /** Samples per inference run. */
  batchSize: number;
  /** Samples per chunk: what one selection sees, and what the pass holds in memory. */
  chunkSize: number;
  /** The session host to score in: the caller keeps one warm across rounds (its worker thread starts once). */
  host: SessionHost;
  signal?: AbortSignal;
}

const IN_FLIGHT = 2;

export async function* scoringPass(pool: pg.Pool, dataset: Dataset, args: ScoringPassArgs): AsyncGenerator<ScoredChunk> {
  const inputs = batchInputs(args.model, 'scoring pass');
  const weights = { ...args.state.params, ...args.state.buffers };
  const session = args.needs === 'nothing' ? undefined : await args.host.createSession(buildInference(args.model, weights));
  try {
    const fetch = args.needs === 'outputs' ? ['output'] : ['output', 'embedding'];
    let after = 0;
    for (;;) {
      args.signal?.throwIfAborted();
      const { length, columns: [keys] } = await copyOut(
        pool,
        `SELECT sample_key FROM training_samples WHERE pipeline_id = ${int(args.pipelineId)} AND trigger_id = ${int(args.triggerId)}
           AND sample_key > ${int(after)} ORDER BY sample_key LIMIT ${int(args.chunkSize)}`,
        ['int8'], args.chunkSize,
      );
      if (length === 0) return;
      const chunkKeys = keys.subarray(0, length);
      after = chunkKeys[length - 1]!;
      if (!session) {
        yield { keys: chunkKeys, samples: { n: length } };
        if (length < args.chunkSize) return;
        continue;
      }
      const labels = new Int32Array(length);
      let output = new Float32Array(0);
      let embedding = new Float32Array(0);
      let classes = 0;
      let embeddingSize = 0;
      let row = 0;
      const runs: Promise<void>[] = [];
      for await (const batch of keyedBatches(pool, dataset, { keys: chunkKeys, batchSize: args.batchSize })) {
        const at = row;
        row += batch.size;
        labels.set(batch.y, at);
        const done = session.run(inputFeeds(batch, inputs), { fetch, transfer: true }).then((out) => {
          const o = out.output!;
          classes = o.dims[1]!;
          if (output.length === 0) output = new Float32Array(length * classes);
          output.set(o.data as Float32Array, at * classes);
          const e = out.embedding;
          if (e) {
            embeddingSize = e.dims[1]!;
            if (embedding.length === 0) embedding = new Float32Array(length * embeddingSize);
            embedding.set(e.data as Float32Array, at * embeddingSize);
          }
        });
        // Awaited in order below; marked handled so a later run failing first is not an unhandled rejection.
        done.catch(() => {});
        runs.push(done);
        if (runs.length >= IN_FLIGHT) await runs.shift();
      }
      for (const run of runs) await run;
      yield { keys: chunkKeys, samples: { n: length, output, classes, loss: args.model.loss, labels, embedding, embeddingSize } };
      if (length < args.chunkSize) return;
    }
  } finally {
    await session?.release();
  }
}

function int(value: number): number {
  if (!Number.isSafeInteger(value)) throw new Error(`scoring pass: ${value} is not an integer`);
  return value;
}
