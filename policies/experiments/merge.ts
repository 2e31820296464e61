/** A JSON object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keys that say which kind of object a spec object is: the discriminators of the spec's unions. */
const KIND_KEYS = ['kind', 'name', 'architecture'] as const;

/** Whether `override` names another kind of object than `base` (a time trigger replaced by a drift trigger, adam by sgd). */
function changesKind(base: Record<string, unknown>, override: Record<string, unknown>): boolean {
  return KIND_KEYS.some((key) => key in override && key in base && override[key] !== base[key]);
}

/**
 * A variant's spec: `overrides` laid over `base`. Objects merge key by key, arrays and scalars replace; an object
 * that changes its kind (`kind`, `name` or `architecture`) replaces the base's whole, since the base's other keys
 * belong to the kind it had.
 */
export function mergeOverrides(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override) || changesKind(base, override)) return override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = key in base ? mergeOverrides(base[key], value) : value;
  return merged;
}
