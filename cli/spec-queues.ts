import type { TidelineConfig } from '../lib/config.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A pipeline spec's input with the task queues it leaves out filled from the config, so the pipeline
 * runs on the queues of the stack's workers (the schema's own defaults are the plain `tideline-cpu`
 * and `tideline-gpu`, which an embedded stack's workers do not poll). Queues the spec sets are kept.
 */
export function withStackQueues(input: unknown, config: Pick<TidelineConfig, 'cpuQueue' | 'gpuQueue'>): unknown {
  if (!isRecord(input)) return input;
  const queues = input.queues ?? {};
  // Anything but an object is left for parseSpec to name as the bad field.
  if (!isRecord(queues)) return input;
  return { ...input, queues: { cpu: config.cpuQueue, gpu: config.gpuQueue, ...queues } };
}
