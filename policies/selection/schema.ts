import { z } from 'zod';
import { downsamplingSchema } from './downsampling-schema.js';

/**
 * The `selection` section of the pipeline spec: which samples a trigger trains on. The window says which data is
 * eligible, `limit` caps it, `freshness` or `presampling` pick from it in PostgreSQL (lib/data/selection/), and
 * `downsampling` picks from that with the model while training (lib/train/downsampling/). The first
 * `warmupTriggers` triggers train on the whole (limited) window.
 */

const ratio = z.number().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]');

const windowSchema = z.discriminatedUnion('kind', [
  /** The trigger's new data only. */
  z.strictObject({ kind: z.literal('newData') }),
  /** Everything since the pipeline started. */
  z.strictObject({ kind: z.literal('allData') }),
  /** The trigger's new data and that of the `triggers` triggers before it. */
  z.strictObject({ kind: z.literal('lastTriggers'), triggers: z.number().int().min(1) }),
]);

/** At most `samples` samples, over the whole window: its newest (`last`) or a seeded uniform share (`uniform`). */
const limitSchema = z.strictObject({
  samples: z.number().int().min(1),
  keep: z.enum(['last', 'uniform']).default('uniform'),
});

/** Each trigger mixes samples no earlier trigger trained on with already-used ones, `unusedRatio` of them unused. */
const freshnessSchema = z.strictObject({ unusedRatio: z.number().gt(0, 'must be in (0, 1)').lt(1, 'must be in (0, 1)') });

/**
 * Groups (labels, or triggers) get fair shares of the target size: a group smaller than its share gives all its
 * samples and the others split what it leaves (policies/selection/fair-shares.ts).
 */
const balancing = {
  /** Every group gets exactly the same count: the smallest group's size, or target / groups if that is less. */
  forceColumnBalancing: z.boolean().default(false),
  /** Also hand out the remainder of target / groups, one sample per group, so the set has exactly the target size. */
  forceRequiredTargetSize: z.boolean().default(false),
};

/** Picks `ratio` of the (limited) window in one INSERT … SELECT; random choices use a seeded hash of the key. */
const presamplingSchema = z.discriminatedUnion('strategy', [
  z.strictObject({ strategy: z.literal('random'), ratio }),
  /** No sample is picked again until every sample of the window has been picked once. */
  z.strictObject({ strategy: z.literal('randomNoReplacement'), ratio }),
  z.strictObject({ strategy: z.literal('labelBalanced'), ratio, ...balancing }),
  /** Balanced over the triggers whose new data the samples were. */
  z.strictObject({ strategy: z.literal('triggerBalanced'), ratio, ...balancing }),
]);

const structuredSelectionSchema = z
  .strictObject({
    window: windowSchema.default({ kind: 'newData' }),
    limit: limitSchema.optional(),
    freshness: freshnessSchema.optional(),
    presampling: presamplingSchema.optional(),
    downsampling: downsamplingSchema.optional(),
    warmupTriggers: z.number().int().min(0).default(0),
  })
  .superRefine((s, ctx) => {
    if (s.freshness && s.window.kind !== 'allData') {
      ctx.addIssue({
        code: 'custom', path: ['freshness'],
        message: `freshness mixes unused and used samples of all data, so it needs window allData (the window is ${s.window.kind})`,
      });
    }
    if (s.freshness && s.presampling) {
      ctx.addIssue({ code: 'custom', path: ['presampling'], message: 'freshness already picks the samples: give freshness or presampling, not both' });
    }
    const p = s.presampling;
    if (p && 'forceColumnBalancing' in p && p.forceColumnBalancing && p.forceRequiredTargetSize) {
      ctx.addIssue({
        code: 'custom', path: ['presampling', 'forceRequiredTargetSize'],
        message: 'forceColumnBalancing gives every group the same count, which cannot also reach an exact target size: give one of them',
      });
    }
    if (s.presampling?.strategy === 'triggerBalanced' && s.window.kind === 'newData') {
      ctx.addIssue({ code: 'custom', path: ['presampling', 'strategy'], message: 'triggerBalanced balances over triggers, but window newData holds one trigger\'s data' });
    }
  });

/**
 * Specs written before the structured section gave the window alone (`selection: { kind: allData }`): read as
 * that window, so their files and the pipelines started from them (which re-parse their spec on replay) keep working.
 */
const isLegacy = (value: unknown): value is { kind: 'newData' | 'allData' } =>
  typeof value === 'object' && value !== null && Object.keys(value).length === 1 && ['newData', 'allData'].includes((value as { kind?: string }).kind!);

export const selectionSchema = z.preprocess(
  (value) => (isLegacy(value) ? { window: { kind: value.kind } } : value),
  structuredSelectionSchema,
) as unknown as typeof structuredSelectionSchema;

export type SelectionSpec = z.output<typeof selectionSchema>;
export type SelectionWindow = SelectionSpec['window'];
export type SelectionLimit = NonNullable<SelectionSpec['limit']>;
export type Presampling = NonNullable<SelectionSpec['presampling']>;
export type Freshness = NonNullable<SelectionSpec['freshness']>;
