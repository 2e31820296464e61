/**
 * Batch-then-sample downsampling as a step of the loop: each pulled batch is scored with forward passes of the
 * model as it is now, and the step trains on the batch `selectBatch` makes of it. The forward runs the derived
 * inference graph (parameters and buffers as graph inputs) on the stored tensors in the train step's own
 * SessionHost, whose requests run in order: a forward queued after step t sees the parameters after step t.
 */
import type { Batch } from '../data/batch.js';
import { checkBatchInputs, inputFeeds, type BatchInputs } from '../onnx/batch-feeds.js';
import { buildInference } from '../onnx/models/build.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import type { Feed, HostedSession, SessionHost } from '../onnx/session-host.js';
import { checkTrainBatch } from './train-batch.js';

export interface ForwardOutputs {
  /** [n, outputSize], row-major. */
  output: Float32Array;
  outputSize: number;
  /** [n, embeddingSize], row-major. */
  embedding: Float32Array;
  embeddingSize: number;
}

export type SelectBatch = (batch: Batch, forward: (batch: Batch) => Promise<ForwardOutputs>) => Promise<Batch>;

export class BatchSelection {
  /** Samples that went through forward passes. */
  scoredSamples = 0;
  /** Wall time spent in selectBatch, its forward passes included. */
  scoringMs = 0;
  /** Created on the first forward, queued behind the steps posted before it. */
  private session: Promise<HostedSession> | undefined;

  /** `stored`: the inference graph's parameter and buffer inputs, fed from the worker's store. */
  constructor(
    private readonly host: SessionHost,
    private readonly model: ModelDefinition,
    private readonly inputs: BatchInputs,
    private readonly stored: Record<string, Feed>,
    private readonly selectBatch: SelectBatch,
  ) {}

  /** The batch step `step` of this call trains on, made from the pulled `batch` by selectBatch. */
  async select(batch: Batch, step: number): Promise<Batch> {
    const start = performance.now();
    const selected = await this.selectBatch(batch, (b) => this.forward(b, step));
    this.scoringMs += performance.now() - start;
    const what = `batch selectBatch returned for step ${step}`;
    if (!Number.isInteger(selected.size) || selected.size < 1) throw new Error(`${what}: size ${selected.size}; a step trains on at least one sample`);
    checkTrainBatch(selected, this.model, this.inputs, what);
    return selected;
  }

  /** Not transferred: the batch stays usable, e.g. to be returned by selectBatch and trained on. */
  private async forward(b: Batch, step: number): Promise<ForwardOutputs> {
    checkBatchInputs(b, this.inputs, (why) => new Error(`forward of selectBatch for step ${step}: ${why}`));
    this.session ??= this.host.createSession(buildInference(this.model));
    const session = await this.session;
    const out = await session.run({ ...this.stored, ...inputFeeds(b, this.inputs) }, { fetch: ['output', 'embedding'] });
    this.scoredSamples += b.size;
    const { output, embedding } = out as Record<'output' | 'embedding', { dims: number[]; data: Float32Array }>;
    return { output: output.data, outputSize: output.dims[1]!, embedding: embedding.data, embeddingSize: embedding.dims[1]! };
  }
}
