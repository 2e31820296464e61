import { categoricalCount, featureCount, type DatasetFormat } from './dataset-config.js';

/**
 * Why models trained on `trained` cannot score samples of `evaluated` (a separate evaluation dataset), or null when
 * they can: the same feature and categorical widths, and the same classes where both declare them.
 */
export function sampleShapeMismatch(trained: DatasetFormat, evaluated: DatasetFormat): string | null {
  const widths = [
    ['features', featureCount(trained), featureCount(evaluated)],
    ['categorical ids', categoricalCount(trained), categoricalCount(evaluated)],
    ['classes', trained.numClasses, evaluated.numClasses],
  ] as const;
  for (const [what, a, b] of widths) {
    if (a !== undefined && b !== undefined && a !== b) return `its samples have ${b} ${what}, the pipeline's models take ${a}`;
  }
  return null;
}
