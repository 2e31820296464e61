import type { ActivityDeps } from './deps.js';
import { evaluationActivities } from './evaluation.js';
import { modelActivities } from './models.js';
import { pipelineActivities } from './pipeline.js';
import { selectionActivities } from './selection.js';
import { trainingActivities } from './training.js';

export type { ActivityDeps } from './deps.js';

/** Activities of the cpu task queue: bookkeeping, data discovery, selection, model storage. */
export function createCpuActivities(deps: ActivityDeps) {
  return { ...pipelineActivities(deps), ...selectionActivities(deps), ...modelActivities(deps) };
}

/** Activities of the gpu task queue: training and evaluation, the ones that run models. */
export function createGpuActivities(deps: ActivityDeps) {
  return { ...trainingActivities(deps), ...evaluationActivities(deps) };
}

export type CpuActivities = ReturnType<typeof createCpuActivities>;
export type GpuActivities = ReturnType<typeof createGpuActivities>;
