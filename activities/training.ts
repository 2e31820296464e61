import { activityInfo, cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { join } from 'node:path';
import type { ModelSpec, PipelineSpec } from '../policies/spec.js';
import type { Batch } from '../lib/data/batch.js';
import { categoricalCount } from '../lib/data/dataset-config.js';
import { getDatasetById } from '../lib/data/datasets.js';
import { countTrainingSet, trainingBatches } from '../lib/data/loader.js';
import { ModelStore } from '../lib/models/store.js';
import type { ModelDefinition } from '../lib/onnx/models/model.js';
import { getModel } from '../lib/pipelines/models.js';
import { checkModelState, initModelState, readModelState, resetOptimizer, writeModelState, type ModelState } from '../lib/train/model-state.js';
import { checkDivergence, DivergedError, WARNING_EXTRA_KEY } from '../lib/train/divergence.js';
import { NonFiniteLossError, trainModel } from '../lib/train/trainer.js';
import { checkpointExtra, checkpointPath, CheckpointRetention, listCheckpoints, resumePoint, retentionMs, type Checkpoint } from './checkpoints.js';
import type { ActivityDeps } from './deps.js';
import { asActivityFailure } from './deterministic-errors.js';
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

/**
 * What a training attempt heartbeats: its progress (also shown live by `tide status`, cli/training-progress.ts),
 * and the checkpoint the next attempt resumes from.
 */
export interface TrainHeartbeat {
  stepsDone: number;
  samplesDone: number;
  /** Epoch of the latest step, 1-based, of `epochs`. */
  epoch?: number;
  epochs?: number;
  totalSteps?: number;
  /** Mean loss of the last LOSS_WINDOW steps: one step's loss is too noisy to read. */
  loss?: number;
  /** Samples per second of this attempt since its first step (session start-up left out). */
  samplesPerS?: number;
  /** Loss of the trigger's first step, the reference for divergence (lib/train/divergence.ts); kept by resumed attempts. */
  firstLoss?: number;
  checkpoint?: Checkpoint;
}

/** Steps the heartbeated loss averages over. */
const LOSS_WINDOW = 20;

/** Mixes the pipeline seed with the trigger, so each trigger shuffles differently but reproducibly. */
function triggerSeed(seed: number, triggerId: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(triggerId + 1, 0xc2b2ae35)) >>> 0;
}

/** Trains one trigger's model; runs on the gpu task queue. */
export function trainingActivities({ pool, storeDir, executionProvider }: ActivityDeps) {
  const store = new ModelStore(storeDir);

  /** The state a fresh start (no checkpoint to resume from) trains from: the parent's, or a seeded initialization. */
  async function initialState(args: TrainArgs, def: ModelDefinition): Promise<ModelState> {
    const optimizer = args.training.optimizer;
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

  /** One attempt: resumes from a checkpoint when a retry's heartbeat names one (see resumePoint). */
  async function train(args: TrainArgs): Promise<TrainedModel> {
    const dataset = await getDatasetById(pool, args.datasetId);
    if (!dataset) throw configurationError('DatasetNotFound', `dataset ${args.datasetId} no longer exists`);
    const def = await modelFor(args.model, args.features, categoricalCount(dataset.format), store);
    const { batchSize, epochs, checkpointEvery } = args.training;
    const runDir = store.runDir(args.pipelineId, args.triggerId);
    const named = (activityInfo().heartbeatDetails as TrainHeartbeat | undefined)?.checkpoint;
    const resumed = named && await resumePoint(
      store, runDir, named, (s) => checkModelState(s, def, args.training.optimizer), (message) => log.warn(`trigger ${args.triggerId}: ${message}`),
    );
    const resume = resumed?.checkpoint;
    const base: Checkpoint = resume ?? { path: '', stepsDone: 0, samplesDone: 0, elapsedMs: 0 };
    const state = resumed?.state ?? await initialState(args, def);
    const retention = new CheckpointRetention(store, retentionMs(activityInfo().heartbeatTimeoutMs));
    retention.adopt((await listCheckpoints(store, runDir)).map((c) => c.path).filter((path) => path !== resume?.path));
    if (resume) await retention.replace(resume.path);

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

    const started = Date.now();
    const elapsed = () => base.elapsedMs + (Date.now() - started);
    const totalSteps = batchesPerEpoch * epochs;
    let latest: TrainHeartbeat = { stepsDone: base.stepsDone, samplesDone: base.samplesDone, epochs, totalSteps, checkpoint: resume };
    const recentLosses: number[] = [];
    let firstStep: { at: number; samples: number } | undefined;
    if (resume) latest.firstLoss = (activityInfo().heartbeatDetails as TrainHeartbeat).firstLoss;
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
          recentLosses.push(p.loss);
          if (recentLosses.length > LOSS_WINDOW) recentLosses.shift();
          firstStep ??= { at: Date.now(), samples: p.samples };
          const seconds = (Date.now() - firstStep.at) / 1000;
          const stepsDone = base.stepsDone + p.step;
          latest = {
            ...latest,
            stepsDone,
            samplesDone: base.samplesDone + p.samples,
            epoch: Math.min(Math.ceil(stepsDone / batchesPerEpoch), epochs),
            loss: recentLosses.reduce((a, b) => a + b, 0) / recentLosses.length,
            ...(seconds > 0 && { samplesPerS: (p.samples - firstStep.samples) / seconds }),
          };
          if (latest.stepsDone === 1) latest.firstLoss = p.loss;
          report();
        },
        onCheckpoint: async (snapshot, stepsDone) => {
          const steps = base.stepsDone + stepsDone;
          const checkpoint: Checkpoint = {
            path: checkpointPath(runDir, steps), stepsDone: steps, samplesDone: samplesAfter(steps), elapsedMs: elapsed(),
          };
          await writeModelState(store.resolve(checkpoint.path), snapshot, checkpointExtra(checkpoint));
          latest = { ...latest, checkpoint };
          report();
          // The previous checkpoint stays until the server surely holds a heartbeat naming this one.
          await retention.replace(checkpoint.path);
        },
      });
      const trainedState = join(runDir, 'final.state');
      const warning = checkDivergence(latest.firstLoss, result.finalLoss, args.training.failOnDivergence);
      // Storing the model (activities/models.ts) reads the warning from here onto the model row.
      await writeModelState(store.resolve(trainedState), result.state, warning === undefined ? {} : { [WARNING_EXTRA_KEY]: warning });
      await retention.finish();
      return {
        trainedState,
        steps: base.stepsDone + result.steps,
        samples: base.samplesDone + result.samples,
        trainingMs: elapsed(),
        finalLoss: result.finalLoss,
      };
    } catch (err) {
      if (err instanceof DivergedError) {
        throw configurationError('Diverged', `trigger ${args.triggerId}: ${err.message}; lower training.optimizer.lr, or drop training.failOnDivergence to keep the model with a warning`);
      }
      if (err instanceof NonFiniteLossError) {
        throw configurationError('NonFiniteLoss', `trigger ${args.triggerId}, step ${base.stepsDone + err.step}: loss is ${err.loss}; lower training.optimizer.lr or check the data`);
      }
      throw err;
    }
  }

  return {
    async trainModel(args: TrainArgs): Promise<TrainedModel> {
      try {
        return await train(args);
      } catch (err) {
        throw asActivityFailure(err, 'TrainingFailed', `trigger ${args.triggerId}: training`);
      }
    },
  };
}
