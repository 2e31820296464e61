/**
 * Divergence: a training run whose loss ends far above where it started (e.g. lr 1e12 ending at a loss of 1.4e12).
 * A non-finite loss already fails training (NonFiniteLossError); a finite one this high would otherwise be stored
 * as an ordinary model. The reference is the first step's loss, the only one computed before the learning rate
 * acted: with an lr that large, the rest of the first epoch has already blown up too.
 */

/** The final loss must exceed the reference this many times to count as diverged. */
export const DIVERGENCE_FACTOR = 10;
/**
 * First-step losses below this are compared as this: near zero, a ratio says nothing (a well-fit model's loss
 * moving from 0.001 to 0.05 between two batches is noise, not divergence).
 */
const MIN_REFERENCE_LOSS = 0.1;

/** Key of the warning in the `extra` of a trained state file (model-state.ts), which storing the model reads. */
export const WARNING_EXTRA_KEY = 'warning';

/** Thrown instead of returning a warning when the spec says training.failOnDivergence. */
export class DivergedError extends Error {
  override name = 'DivergedError';
}

/** Why the run counts as diverged, or undefined; `firstLoss` is undefined when no step ran. */
export function divergenceWarning(firstLoss: number | undefined, finalLoss: number): string | undefined {
  if (firstLoss === undefined) return undefined;
  const reference = Math.max(firstLoss, MIN_REFERENCE_LOSS);
  if (!(finalLoss > DIVERGENCE_FACTOR * reference)) return undefined;
  return `loss diverged: final loss ${finalLoss.toPrecision(3)} is over ${DIVERGENCE_FACTOR}× the first step's ${firstLoss.toPrecision(3)}`;
}

/**
 * The warning to store with the model (undefined when training went well); with `failOnDivergence` a diverged run
 * throws DivergedError instead.
 */
export function checkDivergence(firstLoss: number | undefined, finalLoss: number, failOnDivergence = false): string | undefined {
  const warning = divergenceWarning(firstLoss, finalLoss);
  if (warning !== undefined && failOnDivergence) throw new DivergedError(warning);
  return warning;
}

/** The warning recorded in a trained state's `extra`, if any. */
export function warningOf(extra: Record<string, unknown>): string | undefined {
  const warning = extra[WARNING_EXTRA_KEY];
  return typeof warning === 'string' ? warning : undefined;
}
