import { z } from 'zod';
import { strategySchema } from './intervals/schema.js';

/**
 * An evaluation in sample time, as `evaluation.afterPipeline` lists them and `tide evaluate` asks for one: how to cut
 * the intervals, which models, and over which data.
 */
export const planRequestSchema = z.strictObject({
  strategy: strategySchema,
  /** The whole matrix, the composite models' cells (active and trained), or only the trained model's (policies/evaluation/interval-cells.ts). */
  models: z.enum(['matrix', 'active', 'trained']).default('matrix'),
  /** A separate evaluation dataset (all its samples, sliced by their timestamps); absent: the pipeline's held-out samples. */
  dataset: z.string().min(1).optional(),
});
export type PlanRequest = z.infer<typeof planRequestSchema>;
