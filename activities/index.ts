import type { ActivityDeps } from './deps.js';
import { evaluationActivities } from './evaluation.js';
import { measurementActivities } from './measurement.js';
import { modelActivities } from './models.js';
import { pipelineActivities } from './pipeline.js';
import { selectionActivities } from './selection.js';
import { trainingActivities } from './training.js';

export type { ActivityDeps } from './deps.js';

/** Activities of the cpu task queue: bookkeeping, data discovery, selection, model storage, data measurements. */
export function createCpuActivities(deps: ActivityDeps) {
  const { measureData } = measurementActivities(deps);
  return { ...pipelineActivities(deps), ...selectionActivities(deps), ...modelActivities(deps), measureData };
}

/** Activities of the gpu task queue: training, evaluation and model measurements, the ones that run models. */
export function createGpuActivities(deps: ActivityDeps) {
  const { measureModel } = measurementActivities(deps);
  return { ...trainingActivities(deps), ...evaluationActivities(deps), measureModel };
}

export type CpuActivities = ReturnType<typeof createCpuActivities>;
export type GpuActivities = ReturnType<typeof createGpuActivities>;
