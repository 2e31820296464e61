/** Numerically stable softmax pieces over one row of logits. */

/** log Σ exp(z), shifted by the row's maximum so large logits neither overflow nor lose the small ones. */
export function logSumExp(logits: Float32Array, offset: number, width: number): number {
  let max = -Infinity;
  for (let c = 0; c < width; c++) max = Math.max(max, logits[offset + c]!);
  let sum = 0;
  for (let c = 0; c < width; c++) sum += Math.exp(logits[offset + c]! - max);
  return max + Math.log(sum);
}

/** softmax of the row into `out` (length ≥ width). */
export function softmaxInto(logits: Float32Array, offset: number, width: number, out: Float64Array): void {
  const lse = logSumExp(logits, offset, width);
  for (let c = 0; c < width; c++) out[c] = Math.exp(logits[offset + c]! - lse);
}

/** σ(z) without overflow for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}
