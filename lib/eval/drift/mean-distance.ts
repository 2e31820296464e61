/** Euclidean distance between the two windows' mean embeddings, the means accumulated in float64. */
import { checkPair, columnMeans, type Matrix } from './matrix.js';

export function meanDistance(ref: Matrix, cur: Matrix): number {
  checkPair(ref, cur, 1);
  const a = columnMeans(ref);
  const b = columnMeans(cur);
  let sum = 0;
  for (let c = 0; c < a.length; c++) sum += (a[c]! - b[c]!) ** 2;
  return Math.sqrt(sum);
}
