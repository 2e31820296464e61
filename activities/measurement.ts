import { ApplicationFailure } from '@temporalio/common';
import { heartbeat, log } from '@temporalio/activity';
import { readFile } from 'node:fs/promises';
import type { ModelSpec } from '../policies/spec.js';
import type { DriftMetricRequest, DriftMetricResult, MeasureRequest, MeasureResult, SampleWindow } from '../policies/triggers/protocol.js';
import type { Batch } from '../lib/data/batch.js';
import { categoricalCount, featureCount } from '../lib/data/dataset-config.js';
import { getDatasetById, type Dataset } from '../lib/data/datasets.js';
import { DataError } from '../lib/data/errors.js';
import { keyedBatches } from '../lib/data/loader.js';
import { dataTime, describeWindow, windowKeys } from '../lib/data/windows.js';
import { featureDrift, hellinger, meanDistance, MmdKernel, type Matrix, type MmdResult } from '../lib/eval/drift/index.js';
import { classificationPerformance, embeddingMatrix, inferenceBatchSize, ModelOutputError } from '../lib/eval/model-outputs.js';
import { ModelSessions, type LoadedModel, type ModelSession } from '../lib/eval/model-sessions.js';
import { ModelStore } from '../lib/models/store.js';
import type { SessionHost } from '../lib/onnx/session-host.js';
import { listModels } from '../lib/pipelines/models.js';
import type { ActivityDeps } from './deps.js';
import { modelFor } from './model-for.js';

export interface MeasureArgs {
  pipelineId: number;
  datasetId: number;
  /** The policy's place in the spec, e.g. 'trigger.members.drift': failures name it. */
  policy: string;
  request: MeasureRequest;
}

/** While the drift statistics run, nothing else reports progress: a timer heartbeats for them. */
const HEARTBEAT_MS = 2000;

/** A measurement that no retry can make succeed; `measuring` turns it into a MeasurementFailed failure. */
class MeasurementError extends Error {}

/** File-system errors that mean a file is gone or unreadable for good, not that the disk hiccupped. */
const MISSING_FILE = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES']);

/**
 * Measurements for model-aware trigger policies: `measureModel` (gpu queue) runs a model on windows of samples
 * (embedding drift, performance), `measureData` (cpu queue) sums sample times. Both return small results only.
 * Model sessions stay alive between calls in `sessions`; by default one cache per activities object, whose host
 * starts on the first measurement and closes when idle (model-sessions.ts).
 */
export function measurementActivities(
  { pool, storeDir, executionProvider }: ActivityDeps,
  sessions = new ModelSessions({ executionProvider, onWarning: (message) => log.warn(message) }),
) {
  const store = new ModelStore(storeDir);

  /** Reads the model's graph and definition; only on a cache miss. */
  const loader = (args: MeasureArgs, dataset: Dataset, modelId: number) => async (): Promise<LoadedModel> => {
    const row = (await listModels(pool, args.pipelineId)).find((m) => m.modelId === modelId);
    if (!row) throw new MeasurementError(`model ${modelId} is not a model of pipeline ${args.pipelineId}`);
    const { features, ...spec } = row.architecture as ModelSpec & { features: number };
    const path = store.resolve(row.onnxPath);
    const bytes = await readFile(path).catch((err: Error) => {
      throw new MeasurementError(`model ${modelId}: cannot read ${path}: ${err.message}`);
    });
    return { bytes, def: await modelFor(spec as ModelSpec, features, categoricalCount(dataset.format), store) };
  };

  /** Runs `work` with the model's cached session; a model that cannot be loaded is a MeasurementError. */
  const withModel = async <T>(args: MeasureArgs, dataset: Dataset, modelId: number, work: (model: ModelSession) => Promise<T>): Promise<T> => {
    let loaded = false;
    try {
      return await sessions.use(modelId, loader(args, dataset, modelId), (model) => {
        loaded = true;
        return work(model);
      });
    } catch (err) {
      if (loaded || err instanceof MeasurementError) throw err;
      throw new MeasurementError(`model ${modelId} cannot be loaded: ${(err as Error).message}`);
    }
  };

  /** A window's keys (subsampled) and their batches, heartbeating as they are read. */
  const readWindow = async (dataset: Dataset, window: SampleWindow, name: string, subsample?: { size: number; seed: number }) => {
    const keys = await windowKeys(pool, dataset.id, window, subsample);
    if (keys.length === 0) throw new MeasurementError(`the ${name} window (${describeWindow(window)}) holds no samples`);
    const batchSize = inferenceBatchSize(featureCount(dataset.format) + categoricalCount(dataset.format));
    return { keys, batches: heartbeating(keyedBatches(pool, dataset, { keys, batchSize })) };
  };

  return {
    async measureModel(args: MeasureArgs): Promise<MeasureResult> {
      const { request } = args;
      return measuring(args, sessions, async () => {
        const dataset = await datasetOf(args);
        switch (request.kind) {
          case 'embeddingDrift': {
            const subsample = request.sampleSize === undefined ? undefined : { size: request.sampleSize, seed: request.seed };
            const [reference, current] = await Promise.all([
              readWindow(dataset, request.reference, 'reference', subsample),
              readWindow(dataset, request.current, 'current', subsample),
            ]);
            // Both windows go to the session at once, so reading the second overlaps inference on the first.
            const [ref, cur] = await withModel(args, dataset, request.modelId, (model) =>
              Promise.all([embeddingMatrix(model, reference.batches, { keys: reference.keys }), embeddingMatrix(model, current.batches, { keys: current.keys })]));
            const metrics = await heartbeatWhile(sessions.withHost((host) => driftMetrics(host, ref, cur, request.metrics)));
            return { kind: 'embeddingDrift', referenceCount: ref.rows, currentCount: cur.rows, metrics };
          }
          case 'performance': {
            const { keys, batches } = await readWindow(dataset, request.window, 'performance');
            const result = await withModel(args, dataset, request.modelId, (model) => classificationPerformance(model, batches, { keys }));
            return { kind: 'performance', ...result };
          }
          case 'dataTime':
            throw new MeasurementError('dataTime is measured by measureData on the cpu queue');
        }
      });
    },

    async measureData(args: MeasureArgs): Promise<MeasureResult> {
      const { request } = args;
      return measuring(args, undefined, async () => {
        if (request.kind !== 'dataTime') throw new MeasurementError(`${request.kind} runs a model: it is measured by measureModel on the gpu queue`);
        const dataset = await datasetOf(args);
        const time = await dataTime(pool, dataset.id, request.range);
        if (time.count === 0) throw new MeasurementError(`keys [${request.range.firstKey}, ${request.range.lastKey}] hold no samples`);
        return { kind: 'dataTime', ...time };
      });
    },
  };

  async function datasetOf(args: MeasureArgs): Promise<Dataset> {
    const dataset = await getDatasetById(pool, args.datasetId);
    if (!dataset) throw new MeasurementError(`dataset ${args.datasetId} no longer exists`);
    return dataset;
  }
}

/** The level of the ks and cvm tests when a request gives none, as alibi-detect's default. */
const DEFAULT_P_VALUE = 0.05;

/**
 * Each requested metric of the reference and current embeddings, in request order. MMD² runs on `host`; its kernel
 * sums (after the median-heuristic bandwidth) are queued first, so the statistics computed here on the main thread
 * overlap them. A metric that refuses the windows (too few rows, bad options) is a MeasurementError naming it; a
 * failure of the host is not.
 */
export async function driftMetrics(host: SessionHost, ref: Matrix, cur: Matrix, requests: DriftMetricRequest[]): Promise<DriftMetricResult[]> {
  const refused = <T>(kind: string, compute: () => T): T => {
    try {
      return compute();
    } catch (err) {
      throw new MeasurementError(`${kind}: ${(err as Error).message}`);
    }
  };
  let mmd: Promise<MmdResult> | undefined;
  if (requests.some((r) => r.kind === 'mmd')) {
    const kernel = await MmdKernel.forHost(host);
    // With the bandwidth known, compute queues every kernel run before it returns.
    const bandwidth = await refused('mmd', () => kernel.bandwidth(ref, cur));
    mmd = kernel.compute(ref, cur, { bandwidth });
    mmd.catch(() => {});
  }
  const results = requests.map((request) => refused(request.kind, (): DriftMetricResult | undefined => {
    switch (request.kind) {
      case 'mmd':
        return undefined;
      case 'ks':
      case 'cvm': {
        const options = { correction: request.correction ?? 'bonferroni', pValue: request.pValue ?? DEFAULT_P_VALUE };
        const { statistic, minPValue, drift } = featureDrift(ref, cur, request.kind, options);
        return { kind: request.kind, score: statistic, pValue: minPValue, drift };
      }
      case 'hellinger':
        return { kind: 'hellinger', score: hellinger(ref, cur, request.bins === undefined ? {} : { bins: request.bins }) };
      case 'meanDistance':
        return { kind: 'meanDistance', score: meanDistance(ref, cur) };
    }
  }));
  const mmd2 = mmd && (await mmd).mmd2;
  return results.map((result) => result ?? { kind: 'mmd', score: mmd2! });
}

/**
 * Runs a measurement and sorts its failures: one that cannot succeed (bad window, missing model or file, NaN
 * embedding, a model ONNX Runtime refuses) becomes a non-retryable MeasurementFailed naming the policy, the windows
 * and the cause; any other (the database or the session host went away) is thrown as is for a retry, and closes
 * the cached sessions so the retry starts from a fresh host.
 */
async function measuring(args: MeasureArgs, sessions: ModelSessions | undefined, work: () => Promise<MeasureResult>): Promise<MeasureResult> {
  try {
    return await work();
  } catch (err) {
    if (!cannotSucceed(err)) {
      await sessions?.close();
      throw err;
    }
    throw ApplicationFailure.nonRetryable(`${args.policy}: ${describeRequest(args.request)}: ${(err as Error).message}`, 'MeasurementFailed');
  }
}

function cannotSucceed(err: unknown): boolean {
  if (err instanceof MeasurementError || err instanceof DataError || err instanceof ModelOutputError) return true;
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && MISSING_FILE.has(code)) return true;
  // ONNX Runtime refused the model or its feeds: the same model and samples fail the same way again.
  return err instanceof Error && err.message.startsWith('onnxruntime: ');
}

/** What was measured on which keys, for failure messages. */
function describeRequest(request: MeasureRequest): string {
  switch (request.kind) {
    case 'embeddingDrift':
      return `embedding drift of model ${request.modelId} between reference ${describeWindow(request.reference)} and current ${describeWindow(request.current)}`;
    case 'performance':
      return `performance of model ${request.modelId} on ${describeWindow(request.window)}`;
    case 'dataTime':
      return `data time of keys [${request.range.firstKey}, ${request.range.lastKey}]`;
  }
}

/** The batches, heartbeating as each one is read. */
async function* heartbeating(batches: AsyncIterable<Batch>): AsyncGenerator<Batch> {
  for await (const b of batches) {
    heartbeat();
    yield b;
  }
}

/** Heartbeats every HEARTBEAT_MS until `work` settles. */
async function heartbeatWhile<T>(work: Promise<T>): Promise<T> {
  const timer = setInterval(() => heartbeat(), HEARTBEAT_MS);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
