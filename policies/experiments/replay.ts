/**
 * Replay-stream mode of an experiment variant: its pipeline starts before any data and the dataset's files arrive
 * one by one in their ingestion (sample-time) order, `speed` seconds of sample time per second of wall time, each
 * signalled to the pipeline: the live path, where the others run on the catch-up path. Pure code, used by
 * `experimentWorkflow`.
 */

/** The wall time between two files' arrivals: the sample time between their first samples, at `speed`. */
export function arrivalGapMs(previousMinTs: number, minTs: number, speed: number): number {
  return Math.max(0, Math.round(((minTs - previousMinTs) / speed) * 1000));
}

/**
 * The replayed pipeline's own dataset: the base's files under a name of its own (dataset names are at most 63
 * characters without slashes), the same for every attempt of the same pipeline.
 */
export function replayDatasetName(base: string, pipelineName: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < pipelineName.length; i++) hash = Math.imul(hash ^ pipelineName.charCodeAt(i), 0x01000193) >>> 0;
  return `${base.slice(0, 45)}.replay-${hash.toString(16).padStart(8, '0')}`;
}
