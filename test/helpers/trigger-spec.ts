import { parseSpec } from '../../policies/spec.js';
import type { TriggerSpec } from '../../policies/triggers/schema.js';

/** A `trigger` section as the spec parser fills it in (defaults applied, refinements checked). */
export function triggerSpec(input: unknown): TriggerSpec {
  return parseSpec({
    dataset: { name: 'd' }, model: { architecture: 'mlp', numClasses: 2 },
    training: { optimizer: { name: 'sgd', lr: 0.1 } }, trigger: input,
  }).trigger;
}
