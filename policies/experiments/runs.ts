import type { PipelineSpec } from '../spec.js';
import { variantSpec, type Experiment } from './schema.js';

/** One pipeline of an experiment: a variant with one seed. */
export interface ExperimentRun {
  variant: string;
  seed: number;
  /** The pipeline's name and its workflow id. */
  pipelineName: string;
  spec: PipelineSpec;
  /** Replay-stream mode: the variant's files arrive at this speed (policies/experiments/replay.ts). */
  replay?: { speed: number };
}

/**
 * Every pipeline of the experiment, variants in the file's order, seeds in the variant's order, each ending at
 * `endKey` (the experiment's end of the stream, resolved against the dataset) and evaluated first by the
 * experiment's shared evaluation, if it has one.
 */
export function experimentRuns(experiment: Experiment, endKey: number): ExperimentRun[] {
  return Object.entries(experiment.variants).flatMap(([variant, { seeds, replay }]) =>
    (seeds ?? [undefined]).map((requested) => {
      const spec = variantSpec(experiment, variant, requested);
      const seed = spec.training.seed;
      const afterPipeline = experiment.evaluation ? [experiment.evaluation, ...spec.evaluation.afterPipeline] : spec.evaluation.afterPipeline;
      return {
        variant, seed, pipelineName: `${experiment.name}/${variant}/seed-${seed}`,
        spec: { ...spec, evaluation: { ...spec.evaluation, afterPipeline }, until: { key: endKey } },
        ...(replay ? { replay } : {}),
      };
    }),
  );
}
