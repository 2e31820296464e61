/** Every workflow type a Tideline worker serves: the worker's workflowsPath points here. */
export { pipelineWorkflow } from './pipeline.js';
export { triggerWorkflow } from './trigger.js';
export { experimentWorkflow } from './experiment.js';
export { evaluationWorkflow } from './evaluation.js';
