import { log } from '@temporalio/activity';
import { ModelSessions } from '../lib/eval/model-sessions.js';
import type { ActivityDeps } from './deps.js';
import { evaluationActivities } from './evaluation.js';
import { evaluationPlanActivities, planScoringActivities } from './evaluation-plan.js';
import { MODELS_PER_PASS } from './evaluation-sessions.js';
import { heartbeating } from './heartbeating.js';
import { experimentActivities } from './experiment.js';
import { measurementActivities } from './measurement.js';
import { modelActivities } from './models.js';
import { pipelineActivities } from './pipeline.js';
import { selectionActivities } from './selection.js';
import { namingFullStore } from './store-space.js';
import { trainingActivities } from './training.js';

export type { ActivityDeps } from './deps.js';

/** Activities of the cpu task queue: bookkeeping, data discovery, selection, model storage, data measurements, experiments. */
export function createCpuActivities(deps: ActivityDeps) {
  const { measureData } = measurementActivities(deps);
  return heartbeating(namingFullStore(deps.storeDir, {
    ...pipelineActivities(deps), ...selectionActivities(deps), ...modelActivities(deps), measureData, ...experimentActivities(deps),
    ...evaluationPlanActivities(deps),
  }));
}

/**
 * Activities of the gpu task queue: training, evaluation and model measurements, the ones that run models.
 * Evaluation and measurements share one cache of inference sessions (one host thread for the worker).
 */
export function createGpuActivities(deps: ActivityDeps) {
  // Room for the models of one evaluation pass and the current model of the measurements.
  const sessions = new ModelSessions({ capacity: MODELS_PER_PASS + 2, executionProvider: deps.executionProvider, onWarning: (message) => log.warn(message) });
  const { measureModel } = measurementActivities(deps, sessions);
  return namingFullStore(deps.storeDir, { ...trainingActivities(deps), ...evaluationActivities(deps, sessions), ...planScoringActivities(deps, sessions), measureModel });
}

export type CpuActivities = ReturnType<typeof createCpuActivities>;
export type GpuActivities = ReturnType<typeof createGpuActivities>;
