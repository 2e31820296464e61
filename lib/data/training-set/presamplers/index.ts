import type { SelectionPlan } from '../../../../policies/selection/plan.js';
import { labelBalanced, triggerBalanced } from './balanced.js';
import { freshness } from './freshness.js';
import type { Presampler } from './presampler.js';
import { random } from './random.js';
import { randomNoReplacement } from './random-no-replacement.js';
import { windowOnly } from './window-only.js';

/** Presamplers by spec name (selection.presampling.strategy). */
const presamplers: Record<NonNullable<SelectionPlan['presampling']>['strategy'], Presampler> = {
  random,
  randomNoReplacement,
  labelBalanced,
  triggerBalanced,
};

/** The presampler a plan runs: freshness, its presampling strategy, or the (limited) window. */
export function presamplerOf(plan: SelectionPlan): Presampler {
  if (plan.freshness) return freshness;
  return plan.presampling ? presamplers[plan.presampling.strategy] : windowOnly;
}
