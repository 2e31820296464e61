import { SimplePlugin } from '@temporalio/plugin';
import { fileURLToPath } from 'node:url';
import { createCpuActivities, createGpuActivities, type ActivityDeps } from '../activities/index.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export type WorkerRole = 'control' | 'gpu';

/**
 * Tideline as a Temporal plugin: add it to a worker of your own and that worker serves Tideline.
 * A `control` worker (on the cpu task queue) runs the pipeline workflows and the cpu activities;
 * a `gpu` worker (on the gpu task queue) runs training and evaluation.
 */
export function tidelinePlugin(role: WorkerRole, deps: ActivityDeps): SimplePlugin {
  return role === 'control'
    ? new SimplePlugin({ name: 'tideline-control', workflowsPath: WORKFLOWS_PATH, activities: createCpuActivities(deps) })
    : new SimplePlugin({ name: 'tideline-gpu', activities: createGpuActivities(deps) });
}
