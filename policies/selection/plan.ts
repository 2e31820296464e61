import type { Downsampler } from './downsampling-schema.js';
import type { Freshness, Presampling, SelectionLimit, SelectionSpec, SelectionWindow } from './schema.js';

/**
 * `selection` as specs before the structured section had it: a window kind alone. Pipelines started then still
 * carry it in their workflow input, so a replay or a resumed run reads it as that window.
 */
export interface LegacySelection {
  kind: 'newData' | 'allData';
}

/** What a trigger's selection activity does (lib/data/selection/): all of it is decided here, from the spec. */
export interface SelectionPlan {
  window: SelectionWindow;
  limit?: SelectionLimit;
  freshness?: Freshness;
  /** Absent for warm-up triggers. */
  presampling?: Presampling;
  /** Record which samples each trigger used: freshness and randomNoReplacement read it, from the first trigger on. */
  tracksUses: boolean;
  /**
   * RHO-LOSS: the samples the irreducible-loss models train on (lib/data/training-set/irreducible-holdout.ts): a
   * seeded share of the selected ones, held out of the training set, or the set's two seeded halves.
   */
  irreducibleHoldout?: { strategy: 'simple'; ratio: number } | { strategy: 'twin' };
  /** Seed of the trigger's random choices (a uint32). */
  seed: number;
}

/** The selection of trigger `triggerId`; `seed` is the pipeline's (training.seed). */
export function selectionPlan(selection: SelectionSpec | LegacySelection, triggerId: number, seed: number): SelectionPlan {
  const triggerSeed = selectionSeed(seed, triggerId);
  if ('kind' in selection) return { window: { kind: selection.kind }, tracksUses: false, seed: triggerSeed };
  const warm = triggerId >= selection.warmupTriggers;
  const downsampler = downsamplerFor(selection, triggerId);
  return {
    window: selection.window,
    ...(selection.limit && { limit: selection.limit }),
    ...(selection.freshness && { freshness: selection.freshness }),
    ...(warm && selection.presampling && { presampling: selection.presampling }),
    tracksUses: selection.freshness !== undefined || selection.presampling?.strategy === 'randomNoReplacement',
    ...(downsampler?.strategy === 'rhoLoss' && {
      irreducibleHoldout: downsampler.holdout.strategy === 'twin' ? { strategy: 'twin' as const } : { strategy: 'simple' as const, ratio: downsampler.holdout.ratio! },
    }),
    seed: triggerSeed,
  };
}

/** The downsampler trigger `triggerId` trains with: the latest schedule entry it has reached, after the warm-up. */
export function downsamplerFor(selection: SelectionSpec | LegacySelection, triggerId: number): Downsampler | undefined {
  if ('kind' in selection || triggerId < selection.warmupTriggers) return undefined;
  const entry = [...(selection.downsampling ?? [])].reverse().find((d) => d.fromTrigger <= triggerId);
  if (!entry) return undefined;
  const { fromTrigger: _, ...downsampler } = entry;
  return downsampler as Downsampler;
}

/** Mixes the pipeline seed with the trigger (murmur3 finalizer), so each trigger draws different samples, reproducibly. */
export function selectionSeed(seed: number, triggerId: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x5e1ec7ed, 0x85ebca6b) ^ Math.imul(triggerId + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
