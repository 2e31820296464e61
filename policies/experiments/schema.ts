import { z } from 'zod';
import { planRequestSchema } from '../evaluation/plan-request.js';
import { parseSpec, SpecError, type PipelineSpec } from '../spec.js';
import { isPlainObject, mergeOverrides } from './merge.js';

/**
 * The experiment file: a base pipeline spec and named variants of it, each run as its own pipeline (per seed) over
 * the same already-ingested data, up to the same end. What a user writes and what `experimentWorkflow` takes.
 */

/** Names become parts of workflow ids (`<experiment>/<variant>/seed-<seed>`): no slashes, nothing odd. */
const idPart = z.string().regex(/^[A-Za-z0-9][\w.-]*$/, 'use letters, digits, ".", "_" and "-" (starting with a letter or digit)');
const seed = z.number().int().min(0);

const variantSchema = z.strictObject({
  /** Any spec fields, laid over the base (policies/experiments/merge.ts). */
  overrides: z.record(z.string(), z.unknown()).optional(),
  /** One pipeline per seed (training.seed); absent: one pipeline with the merged spec's own seed. */
  seeds: z.array(seed).min(1).refine((s) => new Set(s).size === s.length, 'seeds repeat').optional(),
  /**
   * Replay-stream mode (policies/experiments/replay.ts): the pipeline starts before any data, and the dataset's
   * files arrive in sample-time order, `speed` seconds of sample time per second (86400: a day a second).
   */
  replay: z.strictObject({ speed: z.number().positive() }).optional(),
});

/** The end of the stream, the same for every variant: a key, or the key of the n-th sample. */
const untilSchema = z.union([
  z.strictObject({ key: z.number().int().positive() }),
  z.strictObject({ samples: z.number().int().positive() }),
]);

export const experimentSchema = z.strictObject({
  name: idPart,
  base: z.record(z.string(), z.unknown()),
  variants: z.record(idPart, variantSchema).refine((v) => Object.keys(v).length > 0, 'at least one variant'),
  /** Absent: all data already ingested when the experiment starts. */
  until: untilSchema.optional(),
  /**
   * The evaluation every variant gets when it ends, on the same intervals of sample time (the first of its
   * `evaluation.afterPipeline`): the table's mean composite accuracy comes from it. Absent: from each pipeline's
   * own trigger intervals, which differ between variants whose triggers fire at different times.
   */
  evaluation: planRequestSchema.optional(),
  /** Variant pipelines running at once. */
  concurrency: z.number().int().min(1).max(64).default(2),
});

export type ExperimentInput = z.input<typeof experimentSchema>;
export type Experiment = z.output<typeof experimentSchema>;
export type ExperimentEnd = NonNullable<Experiment['until']>;

/** An experiment that failed validation; `issues` lists each bad field as "path: message". */
export class ExperimentError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid experiment:\n  ${issues.join('\n  ')}`);
    this.name = 'ExperimentError';
  }
}

/** Fields the experiment decides for every variant alike, so that variants compare fairly. */
const SHARED_FIELDS = { dataset: 'every variant runs over the base\'s dataset', until: 'the experiment\'s `until` ends every variant' } as const;

/** A variant's full spec for one seed (absent: the merged spec's own); throws SpecError. */
export function variantSpec(experiment: Pick<Experiment, 'base' | 'variants'>, variant: string, seed?: number): PipelineSpec {
  const merged = mergeOverrides(experiment.base, experiment.variants[variant]?.overrides ?? {});
  if (seed === undefined) return parseSpec(merged);
  const training = isPlainObject(merged) && isPlainObject(merged.training) ? merged.training : {};
  return parseSpec({ ...(merged as object), training: { ...training, seed } });
}

/**
 * Validates an experiment and every variant's merged spec, for each of its seeds; throws ExperimentError naming
 * the path of every bad field (`variants.<name>.<spec path>` for a variant's spec).
 */
export function parseExperiment(input: unknown): Experiment {
  const result = experimentSchema.safeParse(input);
  if (!result.success) {
    throw new ExperimentError(result.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`));
  }
  const experiment = result.data;
  const issues: string[] = [];
  if ('until' in experiment.base) issues.push(`base.until: ${SHARED_FIELDS.until}`);
  for (const [name, variant] of Object.entries(experiment.variants)) {
    for (const [field, why] of Object.entries(SHARED_FIELDS)) {
      if (variant.overrides && field in variant.overrides) issues.push(`variants.${name}.overrides.${field}: ${why}`);
    }
    const found = new Set<string>();
    for (const seed of variant.seeds ?? [undefined]) {
      try {
        variantSpec(experiment, name, seed);
      } catch (err) {
        if (!(err instanceof SpecError)) throw err;
        for (const issue of err.issues) found.add(`variants.${name}.${issue}`);
      }
    }
    issues.push(...found);
  }
  if (issues.length > 0) throw new ExperimentError(issues);
  return experiment;
}
