import { DataError } from './errors.js';

export interface Holdout {
  fraction: number;
  seed: number;
}

/**
 * SQL condition true iff the sample with key `keyColumn` is held out for evaluation: its seeded
 * 32-bit key hash falls below floor(fraction * 2^32). The hash is PostgreSQL's hash-partitioning
 * function, stable across versions, so the split is reproducible. `seed` and `threshold` are the
 * placeholders (e.g. "$4") bound to holdoutParams().
 */
export function heldOutSql(keyColumn: string, seed: string, threshold: string): string {
  return `(hashint8extended(${keyColumn}, ${seed}::bigint) & 4294967295) < ${threshold}::bigint`;
}

/** [seed, threshold] for the placeholders of heldOutSql. */
export function holdoutParams({ fraction, seed }: Holdout): [number, number] {
  if (!(fraction >= 0 && fraction <= 1)) throw new DataError(`holdout fraction ${fraction} is not in [0, 1]`);
  if (!Number.isSafeInteger(seed)) throw new DataError(`holdout seed ${seed} is not an integer`);
  return [seed, Math.floor(fraction * 2 ** 32)];
}
