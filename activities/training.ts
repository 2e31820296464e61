import { activityInfo, cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelSpec, PipelineSpec } from '../policies/spec.js';
import type { Batch } from '../lib/data/batch.js';
import { categoricalCount } from '../lib/data/dataset-config.js';
import { getDatasetById } from '../lib/data/datasets.js';
import { DataError, IngestError } from '../lib/data/errors.js';
import { countTrainingSet, trainingBatches } from '../lib/data/loader.js';
import { ModelStore } from '../lib/models/store.js';
import type { ModelDefinition } from '../lib/onnx/models/model.js';
import { getModel } from '../lib/pipelines/models.js';
import { checkModelState, initModelState, readModelState, resetOptimizer, writeModelState, type ModelState } from '../lib/train/model-state.js';
import { NonFiniteLossError, trainModel } from '../lib/train/trainer.js';
import type { ActivityDeps } from './deps.js';
import { configurationError } from './failures.js';
import { modelFor } from './model-for.js';

export interface TrainArgs {
  pipelineId: number;
  datasetId: number;
  triggerId: number;
  model: ModelSpec;
  features: number;
  training: PipelineSpec['training'];
  /** Model of the previous trigger, fine-tuned when the spec asks for it. */
  parentModelId: number | null;
}

export interface TrainedModel {
  /** Store-relative path of the final state. */
  trainedState: string;
  steps: number;
  samples: number;
  trainingMs: number;
  finalLoss: number;
}

/** A saved training position: the state file and how far into the training set it is. */
interface Checkpoint {
  path: string;
  stepsDone: number;
  samplesDone: number;
  elapsedMs: number;
}

/** What a training attempt heartbeats: its progress, and the checkpoint the next attempt resumes from. */
interface TrainHeartbeat {
  stepsDone: number;
  samplesDone: number;
  loss?: number;
  checkpoint?: Checkpoint;
}

/** Mixes the pipeline seed with the trigger, so each trigger shuffles differently but reproducibly. */
function triggerSeed(seed: number, triggerId: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(triggerId + 1, 0xc2b2ae35)) >>> 0;
}

/** Trains one trigger's model; runs on the gpu task queue. */
export function trainingActivities({ pool, storeDir, executionProvider }: ActivityDeps) {
  const store = new ModelStore(storeDir);

  async function startingState(args: TrainArgs, def: ModelDefinition, resume?: Checkpoint): Promise<ModelState> {
    const optimizer = args.training.optimizer;
    if (resume) return (await readModelState(store.resolve(resume.path))).state;
    if (args.parentModelId !== null && args.training.initialization === 'finetune') {
      const parent = await getModel(pool, args.parentModelId);
      if (!parent) throw configurationError('ModelMismatch', `parent model ${args.parentModelId} is not in the model store`);
      const { state } = await readModelState(store.resolve(parent.statePath));
      try {
        const start = args.training.keepOptimizerState ? state : resetOptimizer(state, def, optimizer);
        checkModelState(start, def, optimizer);
        return start;
      } catch (err) {
        throw configurationError('ModelMismatch', `parent model ${args.parentModelId}: ${(err as Error).message}`);
      }
    }
    return initModelState(def, optimizer, args.training.seed);
  }

  return {
    async trainModel(args: TrainArgs): Promise<TrainedModel> {
      const dataset = await getDatasetById(pool, args.datasetId);
      if (!dataset) throw configurationError('DatasetNotFound', `dataset ${args.datasetId} no longer exists`);
      const def = await modelFor(args.model, args.features, categoricalCount(dataset.format), store);
      const { batchSize, epochs, checkpointEvery } = args.training;
      const resume = (activityInfo().heartbeatDetails as TrainHeartbeat | undefined)?.checkpoint;
      const base: Checkpoint = resume ?? { path: '', stepsDone: 0, samplesDone: 0, elapsedMs: 0 };
      const state = await startingState(args, def, resume);

      const size = await countTrainingSet(pool, args.pipelineId, args.triggerId);
      const batchesPerEpoch = Math.ceil(size / batchSize);
      const seed = triggerSeed(args.training.seed, args.triggerId);
      /** Samples consumed after `steps` batches: full batches, and a short last one each epoch. */
      const samplesAfter = (steps: number) =>
        Math.floor(steps / batchesPerEpoch) * size + Math.min((steps % batchesPerEpoch) * batchSize, size);
      async function* remainingBatches(): AsyncGenerator<Batch> {
        for (let epoch = Math.floor(base.stepsDone / batchesPerEpoch); epoch < epochs; epoch++) {
          const skipBatches = epoch === Math.floor(base.stepsDone / batchesPerEpoch) ? base.stepsDone % batchesPerEpoch : 0;
          yield* trainingBatches(pool, dataset!, {
            pipelineId: args.pipelineId, triggerId: args.triggerId, batchSize, seed, epoch, skipBatches, ...args.training.loader,
          });
        }
      }

      const runDir = store.runDir(args.pipelineId, args.triggerId);
      const started = Date.now();
      const elapsed = () => base.elapsedMs + (Date.now() - started);
      let latest: TrainHeartbeat = { stepsDone: base.stepsDone, samplesDone: base.samplesDone, checkpoint: resume };
      const report = () => heartbeat(latest);
      try {
        const result = await trainModel({
          model: def,
          optimizer: args.training.optimizer,
          state,
          batches: remainingBatches(),
          schedule: args.training.schedule,
          // Each trigger's schedule starts at its own first step, also when the parent's step count carries over.
          scheduleStartStep: state.step - base.stepsDone,
          seed,
          executionProvider,
          onWarning: (message) => log.warn(message),
          checkpointEvery,
          stepsPerRun: args.training.stepsPerRun,
          signal: cancellationSignal(),
          onProgress: (p) => {
            latest = { ...latest, stepsDone: base.stepsDone + p.step, samplesDone: base.samplesDone + p.samples, loss: p.loss };
            report();
          },
          onCheckpoint: async (snapshot, stepsDone) => {
            const steps = base.stepsDone + stepsDone;
            const checkpoint: Checkpoint = {
              path: join(runDir, `ckpt-${steps}.state`), stepsDone: steps, samplesDone: samplesAfter(steps), elapsedMs: elapsed(),
            };
            await writeModelState(store.resolve(checkpoint.path), snapshot);
            const previous = latest.checkpoint?.path;
            latest = { ...latest, checkpoint };
            report();
            if (previous && previous !== checkpoint.path) await rm(store.resolve(previous), { force: true });
          },
        });
        const trainedState = join(runDir, 'final.state');
        await writeModelState(store.resolve(trainedState), result.state);
        return {
          trainedState,
          steps: base.stepsDone + result.steps,
          samples: base.samplesDone + result.samples,
          trainingMs: elapsed(),
          finalLoss: result.finalLoss,
        };
      } catch (err) {
        if (err instanceof NonFiniteLossError) {
          throw configurationError('NonFiniteLoss', `trigger ${args.triggerId}, step ${base.stepsDone + err.step}: loss is ${err.loss}; lower training.optimizer.lr or check the data`);
        }
        if (err instanceof IngestError || err instanceof DataError) throw configurationError('InvalidData', err.message);
        throw err;
      }
    },
  };
}
