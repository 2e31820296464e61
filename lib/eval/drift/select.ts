/** Order statistics without a full sort. */

type Values = Float32Array | Float64Array;

/**
 * The two middle values of `values` in sorted order (the same one twice for an odd count), so a caller can take
 * the median of a transform of the values (e.g. of their square roots). Reorders `values`.
 */
export function middlePair(values: Values): [lower: number, upper: number] {
  const half = values.length >>> 1;
  const upper = selectInPlace(values, half);
  if (values.length % 2 === 1) return [upper, upper];
  // Everything before index `half` is now no larger than `upper`; the largest of it is the lower middle.
  let lower = -Infinity;
  for (let i = 0; i < half; i++) if (values[i]! > lower) lower = values[i]!;
  return [lower, upper];
}

/**
 * The k-th smallest (0-based) of `values`, reordering them in place so that it sits at index k with nothing larger
 * before it and nothing smaller after it (Hoare's quickselect, median-of-three pivots).
 */
function selectInPlace(values: Values, k: number): number {
  if (!(k >= 0 && k < values.length)) throw new Error(`select: k=${k} out of range for ${values.length} values`);
  let lo = 0;
  let hi = values.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three moved to `mid` avoids the quadratic case on sorted input.
    if (values[mid]! < values[lo]!) swap(values, mid, lo);
    if (values[hi]! < values[lo]!) swap(values, hi, lo);
    if (values[hi]! < values[mid]!) swap(values, hi, mid);
    const pivot = values[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) swap(values, i++, j--);
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return values[k]!;
}

function swap(values: Values, i: number, j: number): void {
  const t = values[i]!;
  values[i] = values[j]!;
  values[j] = t;
}
