import { activityInfo, cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { join } from 'node:path';
import type { ModelSpec, PipelineSpec } from '../policies/spec.js';
import { categoricalCount } from '../lib/data/dataset-config.js';
import { getDatasetById } from '../lib/data/datasets.js';
import { countTrainingSet, trainingEpochs } from '../lib/data/loader.js';
import { ModelStore } from '../lib/models/store.js';
import type { ModelDefinition } from '../lib/onnx/models/model.js';
import { getModel } from '../lib/pipelines/models.js';
import { checkModelState, initModelState, readModelState, resetOptimizer, writeModelState, type ModelState } from '../lib/train/model-state.js';
import { checkDivergence, DivergedError, WARNING_EXTRA_KEY } from '../lib/train/divergence.js';
import { NonFiniteLossError, trainModel } from '../lib/train/trainer.js';
import { batchThenSample, pickedCount, scoredBatchSize } from '../lib/train/batch-then-sample.js';
import { downsampleRound } from '../lib/train/downsampled-round.js';
import { downsamplers } from '../lib/train/downsampling/index.js';
import { EpochSegment, roundEpochs } from '../lib/train/epoch-segment.js';
import { fitStandardization, standardizes, withStandardization } from '../lib/train/feature-statistics.js';
import { countDownsampledRound, roundKeys } from '../lib/data/training-set/downsampled.js';
import { IRREDUCIBLE_ROUND, IRREDUCIBLE_TWIN_ROUND } from '../lib/data/training-set/irreducible-holdout.js';
import { trainIrreducibleModel, twinIrreducibleModel } from '../lib/train/irreducible-model.js';
import type { Downsampler } from '../policies/selection/downsampling-schema.js';
import { checkpointExtra, checkpointPath, CheckpointRetention, listCheckpoints, resumePoint, retentionMs, type Checkpoint } from './checkpoints.js';
import type { ActivityDeps } from './deps.js';
import { asActivityFailure } from './deterministic-errors.js';
import { configurationError } from './failures.js';
import { modelFor } from './model-for.js';
import type { SessionHost } from '../lib/onnx/session-host.js';
import { sessionHostPool } from '../lib/onnx/session-host-pool.js';

export interface TrainArgs {
  pipelineId: number;
  datasetId: number;
  triggerId: number;
  model: ModelSpec;
  features: number;
  training: PipelineSpec['training'];
  /** Model of the previous trigger, fine-tuned when the spec asks for it. */
  parentModelId: number | null;
  /** The trigger's model-based downsampler (policies/selection/plan.ts downsamplerFor); absent: train on the whole set. */
  downsampling?: Downsampler;
  /** Samples per inference run of a sample-then-batch scoring pass (evaluation.batchSize); default the training batch size. */
  evaluationBatchSize?: number;
}

export interface TrainedModel {
  /** Store-relative path of the final state. */
  trainedState: string;
  steps: number;
  samples: number;
  trainingMs: number;
  finalLoss: number;
  /** Samples that went through scoring forward passes of model-based downsampling. */
  scoredSamples: number;
  /** The part of trainingMs spent scoring (a resumed attempt counts the scoring done before its checkpoint). */
  scoringMs: number;
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
    const resumed = await resumePoint(
      store, runDir, named, (s) => checkModelState(s, def, args.training.optimizer), (message) => log.warn(`trigger ${args.triggerId}: ${message}`),
    );
    const resume = resumed?.checkpoint;
    const base: Checkpoint = resume ?? { path: '', stepsDone: 0, samplesDone: 0, elapsedMs: 0 };
    let state = resumed?.state ?? await initialState(args, def);
    // A fresh start fits standardization on this trigger's set; a resumed one has it in its checkpoint.
    if (!resumed && standardizes(state)) {
      state = withStandardization(state, await fitStandardization(pool, dataset, { pipelineId: args.pipelineId, triggerId: args.triggerId, features: args.features }));
    }
    // Each trigger's schedule starts at its own first step, also when the parent's step count carries over.
    const scheduleStartStep = state.step - base.stepsDone;
    const retention = new CheckpointRetention(store, retentionMs(activityInfo().heartbeatTimeoutMs));
    retention.adopt((await listCheckpoints(store, runDir)).map((c) => c.path).filter((path) => path !== resume?.path));
    if (resume) await retention.replace(resume.path);

    const setSize = await countTrainingSet(pool, args.pipelineId, args.triggerId);
    const seed = triggerSeed(args.training.seed, args.triggerId);
    const downsampling = args.downsampling;
    const rounds = downsampling?.mode === 'sampleThenBatch' ? roundEpochs(epochs, downsampling.period) : [[0, epochs] as [number, number]];
    const batchThenSampling = downsampling?.mode === 'batchThenSample' ? downsampling : undefined;
    const loadBatch = batchThenSampling ? scoredBatchSize(batchSize, batchThenSampling.ratio) : batchSize;
    const trainedOf = batchThenSampling && ((loaded: number) => pickedCount(loaded, batchSize, batchThenSampling.ratio));
    const scores = downsampling !== undefined && downsamplers[downsampling.strategy].needs !== 'nothing';

    const started = Date.now();
    const elapsed = () => base.elapsedMs + (Date.now() - started);
    let scoringMs = base.scoringMs ?? 0;
    const timedScoring = async <T>(work: () => Promise<T>): Promise<T> => {
      const start = Date.now();
      try {
        return await work();
      } finally {
        scoringMs += Date.now() - start;
      }
    };
    // Display only: rounds not scored yet are counted at ratio × the training set.
    const estimatedSteps = rounds.reduce((sum, [first, end]) => sum + new EpochSegment(
      downsampling?.mode === 'sampleThenBatch' ? Math.max(1, Math.round(setSize * downsampling.ratio)) : setSize, first, end, loadBatch,
    ).steps, 0);
    let latest: TrainHeartbeat = { stepsDone: base.stepsDone, samplesDone: base.samplesDone, epochs, totalSteps: estimatedSteps, checkpoint: resume };
    const recentLosses: number[] = [];
    let firstStep: { at: number; samples: number } | undefined;
    if (resume) latest.firstLoss = resume.firstLoss ?? (activityInfo().heartbeatDetails as TrainHeartbeat | undefined)?.firstLoss;
    const report = () => heartbeat(latest);

    let stepsBefore = 0;
    let samplesBefore = 0;
    let finalLoss = 0;
    // One host for the whole activity, taken when first needed: every round's training (sample-then-batch trains
    // each round in its own call), its scoring, and RHO-LOSS's irreducible-loss model. Given back at the end, for
    // the process's next training activity.
    let sessionHost: SessionHost | undefined;
    const host = () => (sessionHost ??= sessionHostPool.take({ executionProvider, onWarning: (message) => log.warn(message) }));
    try {
      const irreducible = downsampling?.strategy === 'rhoLoss' ? await timedScoring(async () => {
        const twin = downsampling.holdout.strategy === 'twin';
        const train = async (round: number) => {
          if (await countDownsampledRound(pool, args.pipelineId, args.triggerId, round) === undefined) {
            throw configurationError('InvalidSpec', `selection.downsampling.holdout: trigger ${args.triggerId} held out no sample for an irreducible-loss model (its training set has ${setSize})${twin ? '' : '; raise the ratio'}`);
          }
          return trainIrreducibleModel(pool, dataset, {
            pipelineId: args.pipelineId, triggerId: args.triggerId, round, model: def, optimizer: args.training.optimizer, epochs: downsampling.irreducibleEpochs,
            batchSize, seed, host: host(), executionProvider, signal: cancellationSignal(), loader: args.training.loader,
          });
        };
        if (!twin) return train(IRREDUCIBLE_ROUND);
        return twinIrreducibleModel(await train(IRREDUCIBLE_ROUND), await train(IRREDUCIBLE_TWIN_ROUND), await roundKeys(pool, args.pipelineId, args.triggerId, IRREDUCIBLE_ROUND));
      }) : undefined;
      for (const [round, [firstEpoch, endEpoch]] of rounds.entries()) {
        const roundSource = downsampling?.mode === 'sampleThenBatch' ? round : undefined;
        let size = setSize;
        if (roundSource !== undefined) {
          const written = await countDownsampledRound(pool, args.pipelineId, args.triggerId, round);
          if (written !== undefined) size = written;
          else {
            size = (await timedScoring(() => downsampleRound(pool, dataset, {
              pipelineId: args.pipelineId, triggerId: args.triggerId, round, downsampler: downsampling!, model: def, state, seed,
              batchSize: args.evaluationBatchSize ?? batchSize, signal: cancellationSignal(), host: host(),
            }))).size;
          }
        }
        const segment = new EpochSegment(size, firstEpoch, endEpoch, loadBatch, trainedOf);
        const done = Math.max(0, base.stepsDone - stepsBefore);
        if (done >= segment.steps) {
          stepsBefore += segment.steps;
          samplesBefore += segment.trainedAfter(segment.steps);
          continue;
        }
        const from = segment.position(done);
        const batches = trainingEpochs(pool, dataset!, {
          pipelineId: args.pipelineId, triggerId: args.triggerId, batchSize: loadBatch, seed, epoch: from.epoch, endEpoch,
          skipBatches: from.skipBatches, round: roundSource, ...args.training.loader,
        });
        const stepsAt = (segmentSteps: number) => stepsBefore + segmentSteps;
        const samplesAt = (segmentSteps: number) => samplesBefore + segment.trainedAfter(segmentSteps);
        const result = await trainModel({
          model: def,
          optimizer: args.training.optimizer,
          state,
          batches,
          host: host(),
          schedule: args.training.schedule,
          scheduleStartStep,
          seed,
          executionProvider,
          checkpointEvery,
          stepsPerRun: args.training.stepsPerRun,
          signal: cancellationSignal(),
          ...(batchThenSampling && {
            selectBatch: batchThenSample({
              downsampler: batchThenSampling, batchSize, loss: def.loss, seed, firstStep: stepsAt(done), irreducible: irreducible && ((b) => irreducible.outputs(b)),
            }),
          }),
          onProgress: (p) => {
            recentLosses.push(p.loss);
            if (recentLosses.length > LOSS_WINDOW) recentLosses.shift();
            firstStep ??= { at: Date.now(), samples: latest.samplesDone };
            const seconds = (Date.now() - firstStep.at) / 1000;
            const stepsDone = stepsAt(done + p.step);
            latest = {
              ...latest,
              stepsDone,
              samplesDone: samplesAt(done + p.step),
              epoch: Math.min(segment.position(done + p.step - 1).epoch + 1, epochs),
              loss: recentLosses.reduce((a, b) => a + b, 0) / recentLosses.length,
            };
            if (seconds > 0) latest.samplesPerS = (latest.samplesDone - firstStep.samples) / seconds;
            if (latest.stepsDone === 1) latest.firstLoss = p.loss;
            report();
          },
          onCheckpoint: async (snapshot, stepsDone) => {
            const steps = stepsAt(done + stepsDone);
            const checkpoint: Checkpoint = {
              path: checkpointPath(runDir, steps), stepsDone: steps, samplesDone: samplesAt(done + stepsDone), elapsedMs: elapsed(), scoringMs,
              ...(latest.firstLoss !== undefined && { firstLoss: latest.firstLoss }),
            };
            await writeModelState(store.resolve(checkpoint.path), snapshot, checkpointExtra(checkpoint));
            latest = { ...latest, checkpoint };
            report();
            // The previous checkpoint stays until the server surely holds a heartbeat naming this one.
            await retention.replace(checkpoint.path);
          },
        });
        state = result.state;
        finalLoss = result.finalLoss;
        scoringMs += result.scoringMs;
        stepsBefore += segment.steps;
        samplesBefore += segment.trainedAfter(segment.steps);
      }
      // Its sessions go before the host is given back: a host is lent again only empty.
      await irreducible?.release();
      const trainedState = join(runDir, 'final.state');
      const warning = checkDivergence(latest.firstLoss, finalLoss, args.training.failOnDivergence);
      // Storing the model (activities/models.ts) reads the warning from here onto the model row.
      await writeModelState(store.resolve(trainedState), state, warning === undefined ? {} : { [WARNING_EXTRA_KEY]: warning });
      await retention.finish();
      return {
        trainedState,
        steps: stepsBefore,
        samples: samplesBefore,
        trainingMs: elapsed(),
        finalLoss,
        // Every epoch scores the whole set with batch-then-sample; every round does with sample-then-batch.
        scoredSamples: scores ? setSize * (batchThenSampling ? epochs : rounds.length) : 0,
        scoringMs,
      };
    } catch (err) {
      if (err instanceof DivergedError) {
        throw configurationError('Diverged', `trigger ${args.triggerId}: ${err.message}; lower training.optimizer.lr, or drop training.failOnDivergence to keep the model with a warning`);
      }
      if (err instanceof NonFiniteLossError) {
        throw configurationError('NonFiniteLoss', `trigger ${args.triggerId}, step ${stepsBefore + err.step}: loss is ${err.loss}; lower training.optimizer.lr or check the data`);
      }
      throw err;
    } finally {
      if (sessionHost) await sessionHostPool.giveBack(sessionHost);
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
