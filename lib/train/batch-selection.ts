/**
 * Batch-then-sample downsampling as a step of the loop: each pulled batch is scored with forward passes of the model as
 * it is now, and the step trains on the batch `selectBatch` makes of it. The forward runs the derived inference graph
 * (parameters and buffers as graph inputs, host tables as the rows the worker gathers from the tables it holds) on the
 * stored tensors in the train step's own SessionHost, whose requests run in order: a forward queued after step t sees
 * the parameters after step t. So the trainer posts it behind the steps still in flight rather than waiting for them,
 * and the worker goes from step t straight to the forward.
 */
import type { Batch } from '../data/batch.js';
import { checkBatchInputs, inputFeeds, type BatchInputs } from '../onnx/batch-feeds.js';
import { buildInference, type TrainStepOptions } from '../onnx/models/build.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import type { Feed, HostedSession, HostTableRun, SessionHost } from '../onnx/session-host.js';
import { checkTrainBatch } from './train-batch.js';

export interface ForwardOutputs {
  /** [n, outputSize], row-major. */
  output: Float32Array;
  outputSize: number;
  /** [n, embeddingSize], row-major. */
  embedding: Float32Array;
  embeddingSize: number;
}

/** `embedding: false` leaves the embedding out (empty, size 0), for selections that read only the outputs. */
export type Forward = (batch: Batch, fetch?: { embedding: boolean }) => Promise<ForwardOutputs>;

export type SelectBatch = (batch: Batch, forward: Forward) => Promise<Batch>;

export class BatchSelection {
  /** Samples that went through forward passes. */
  scoredSamples = 0;
  /** Wall time spent in selectBatch, its forward passes included, from when the steps before it were done. */
  scoringMs = 0;
  /** Created on the first forward, queued behind the steps posted before it. */
  private session: Promise<HostedSession> | undefined;

  /**
   * `stored`: the inference graph's parameter and buffer inputs, fed from the worker's store; `tables`: the train
   * step's host tables, whose rows the worker gathers for it; `graph`: the train step's graph options.
   */
  constructor(
    private readonly host: SessionHost,
    private readonly model: ModelDefinition,
    private readonly inputs: BatchInputs,
    private readonly stored: Record<string, Feed>,
    private readonly tables: readonly HostTableRun[],
    private readonly selectBatch: SelectBatch,
    private readonly graph: Pick<TrainStepOptions, 'nchwcBlock'>,
  ) {}

  /**
   * The batch step `step` of this call trains on, made from the pulled `batch` by selectBatch. `stepsInFlight`
   * settles when the steps posted before it are done: until then the forward waits behind them in the worker, and
   * that wait is their time, not scoring's.
   */
  async select(batch: Batch, step: number, stepsInFlight: Promise<unknown>): Promise<Batch> {
    let scoringFrom = performance.now();
    void stepsInFlight.then(() => { scoringFrom = performance.now(); });
    const selected = await this.selectBatch(batch, (b, fetch) => this.forward(b, step, fetch));
    this.scoringMs += performance.now() - scoringFrom;
    const what = `batch selectBatch returned for step ${step}`;
    if (!Number.isInteger(selected.size) || selected.size < 1) throw new Error(`${what}: size ${selected.size}; a step trains on at least one sample`);
    checkTrainBatch(selected, this.model, this.inputs, what);
    return selected;
  }

  /** Releases the forward's session, for a host that outlives the training call. */
  async release(): Promise<void> {
    await (await this.session)?.release();
  }

  /**
   * A copy of the features goes over, transferred: the batch stays usable (e.g. to be returned by selectBatch and
   * trained on), and the worker, which reads the message between the previous step's start and its run
   * (onnxruntime-node runs after a setImmediate), takes it without a second copy.
   */
  private async forward(b: Batch, step: number, fetch = { embedding: true }): Promise<ForwardOutputs> {
    checkBatchInputs(b, this.inputs, (why) => new Error(`forward of selectBatch for step ${step}: ${why}`));
    this.session ??= this.host.createSession(buildInference(this.model, undefined, this.graph));
    const session = await this.session;
    const feeds = inputFeeds({ ...b, x: b.x.slice() }, this.inputs);
    const out = await session.run({ ...this.stored, ...feeds }, {
      fetch: fetch.embedding ? ['output', 'embedding'] : ['output'], transfer: true, tables: this.tables, gatherOnly: true,
    });
    this.scoredSamples += b.size;
    const { output, embedding } = out as Partial<Record<'output' | 'embedding', { dims: number[]; data: Float32Array }>>;
    return {
      output: output!.data, outputSize: output!.dims[1]!,
      embedding: embedding?.data ?? new Float32Array(0), embeddingSize: embedding?.dims[1] ?? 0,
    };
  }
}
