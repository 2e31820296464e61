import { z } from 'zod';

/**
 * One model-based downsampler (lib/train/downsampling/): which `ratio` of the presampled training set a trigger
 * trains on, chosen with the model being trained. `batchThenSample` scores each batch of B/ratio samples with a
 * forward pass and trains on the chosen B; `sampleThenBatch` scores the whole training set every `period` epochs
 * (0: once per trigger) and trains on the chosen samples until the next scoring.
 */

const ratio = z.number().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]');
const common = {
  ratio,
  mode: z.enum(['batchThenSample', 'sampleThenBatch']).default('batchThenSample'),
  period: z.number().int().min(0).default(1),
};
const gradients = {
  /** Per-sample gradients of the last layer's logits, or of its weights too (the logit gradient times the embedding). */
  fullGradApproximation: z.enum(['lastLayer', 'lastLayerWithEmbedding']).default('lastLayer'),
  /** Each class gets its share of the picks (sampleThenBatch only). */
  balance: z.boolean().default(false),
};
const greedy = z.enum(['naive', 'lazy', 'stochastic']).default('lazy');
/** Samples per block a similarity matrix is built over: [block, block] memory. */
const selectionBatch = z.number().int().min(2).max(8192).default(64);

export const downsamplerSchema = z.discriminatedUnion('strategy', [
  /** Importance sampling ∝ per-sample loss, weights 1/(k·p). */
  z.strictObject({ strategy: z.literal('loss'), ...common }),
  /** Importance sampling ∝ the norm of the last layer's gradient, weights 1/(k·p). */
  z.strictObject({ strategy: z.literal('gradNorm'), ...common }),
  z.strictObject({
    strategy: z.literal('uncertainty'), ...common,
    scoreMetric: z.enum(['leastConfidence', 'entropy', 'margin']).default('leastConfidence'),
    balance: z.boolean().default(false),
  }),
  z.strictObject({ strategy: z.literal('kCenterGreedy'), ...common, balance: z.boolean().default(false) }),
  /** Orthogonal matching pursuit on per-sample gradients; weights are the fitted coefficients. */
  z.strictObject({ strategy: z.literal('gradMatch'), ...common, ...gradients }),
  /** Facility location on per-sample gradients; weights are cluster sizes. */
  z.strictObject({ strategy: z.literal('craig'), ...common, ...gradients, greedy, selectionBatch }),
  z.strictObject({
    strategy: z.literal('submodular'), ...common, ...gradients, greedy, selectionBatch,
    submodularFunction: z.enum(['facilityLocation', 'graphCut', 'logDeterminant']).default('facilityLocation'),
  }),
  /**
   * RHO-LOSS: each batch's samples with the highest training loss minus irreducible loss, the loss of a model
   * trained (`irreducibleEpochs` epochs, from scratch) on held-out samples. `simple`: on a seeded `holdout.ratio`
   * of the trigger's training set, which the trigger's model then does not train on. `twin`: two models, each on
   * a seeded half of the set, each giving the irreducible loss of the other half; the trigger trains on all.
   */
  z.strictObject({
    strategy: z.literal('rhoLoss'), ratio, mode: z.literal('batchThenSample', 'rhoLoss scores each batch with both models: mode batchThenSample').default('batchThenSample'),
    period: z.literal(1).default(1),
    holdout: z.strictObject(
      {
        strategy: z.enum(['simple', 'twin']).default('simple'),
        ratio: z.number().gt(0, 'must be in (0, 1)').lt(1, 'must be in (0, 1)').optional(),
      },
      { error: 'rhoLoss trains its irreducible-loss model on held-out samples: give holdout: { ratio }, e.g. { ratio: 0.1 }, or holdout: { strategy: twin }' },
    ).superRefine((h, ctx) => {
      if (h.strategy === 'simple' && h.ratio === undefined) ctx.addIssue({ code: 'custom', path: ['ratio'], message: 'a simple holdout needs the share of the set it holds out, e.g. 0.1' });
      if (h.strategy === 'twin' && h.ratio !== undefined) ctx.addIssue({ code: 'custom', path: ['ratio'], message: 'a twin holdout splits the set in halves: no ratio' });
    }),
    irreducibleEpochs: z.number().int().min(1).max(100).default(1),
  }),
  /** Repeated random sampling: a fresh uniform subset every epoch, or disjoint subsets cycling through the set. */
  z.strictObject({
    strategy: z.literal('rs2'), ratio, mode: z.literal('sampleThenBatch').default('sampleThenBatch'),
    period: z.literal(1, 'rs2 draws a new subset every epoch: period is 1').default(1),
    withReplacement: z.boolean().default(false),
  }),
]).superRefine((d, ctx) => {
  const balanced = 'balance' in d && d.balance;
  if (balanced && d.mode !== 'sampleThenBatch') {
    ctx.addIssue({ code: 'custom', path: ['balance'], message: 'balance needs mode sampleThenBatch: a batch is too small to balance' });
  }
  if ('period' in d && d.period !== 1 && d.mode === 'batchThenSample') {
    ctx.addIssue({ code: 'custom', path: ['period'], message: 'period applies to mode sampleThenBatch only (batchThenSample scores every batch)' });
  }
});

export type Downsampler = z.output<typeof downsamplerSchema>;

export type ScheduledDownsampler = Downsampler & { fromTrigger: number };
export type DownsamplingInput = z.input<typeof downsamplerSchema> | Array<z.input<typeof downsamplerSchema> & { fromTrigger: number }>;

const scheduleSchema = z.array(z.looseObject({ fromTrigger: z.number().int().min(0) })).min(1);

/**
 * `downsampling` is one downsampler (from the first trigger on), or a schedule: a list of downsamplers, each with
 * the trigger it takes over from (counted from 0; triggers before the first entry train on the presampled set).
 * Either way it parses to the schedule. Dispatched by shape rather than a zod union, so an error names the bad
 * field instead of "invalid input".
 */
export const downsamplingSchema = z.unknown().transform((value, ctx): ScheduledDownsampler[] => {
  if (!Array.isArray(value)) {
    const one = downsamplerSchema.safeParse(value);
    if (one.success) return [{ ...one.data, fromTrigger: 0 }];
    for (const issue of one.error.issues) ctx.addIssue({ ...issue, code: 'custom', path: issue.path } as never);
    return z.NEVER;
  }
  const list = scheduleSchema.safeParse(value);
  if (!list.success) {
    for (const issue of list.error.issues) ctx.addIssue({ ...issue, code: 'custom', path: issue.path } as never);
    return z.NEVER;
  }
  const entries: ScheduledDownsampler[] = [];
  list.data.forEach(({ fromTrigger, ...rest }, i) => {
    const previous = list.data[i - 1]?.fromTrigger;
    if (previous !== undefined && fromTrigger <= previous) {
      ctx.addIssue({ code: 'custom', path: [i, 'fromTrigger'], message: `must be after the previous entry's fromTrigger ${previous}` });
    }
    const parsed = downsamplerSchema.safeParse(rest);
    if (parsed.success) entries.push({ ...parsed.data, fromTrigger });
    else for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, code: 'custom', path: [i, ...issue.path] } as never);
  });
  return entries;
}) as unknown as z.ZodType<ScheduledDownsampler[], DownsamplingInput>;
