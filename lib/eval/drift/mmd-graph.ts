/**
 * The ONNX graph behind the MMD kernel sums: one Gemm of two row blocks, with or without Exp and a row sum.
 * The caller folds the kernel into the rows (see mmd.ts), so the graph has no width, bandwidth or size baked in
 * and one session serves every check.
 */
import { GraphBuilder } from '../../onnx/graph.js';
import { reduceSum } from '../../onnx/ops.js';

export const PRODUCT = 'product';
export const EXP_ROW_SUMS = 'expRowSums';

/**
 * Inputs `a` [P, K] and `b` [Q, K], float32. Outputs `product` = a·bᵀ [P, Q] and `expRowSums`[p] = Σ_q exp(a·bᵀ)[p, q];
 * a run computes only the outputs it fetches.
 */
export function kernelSumsModel(): Uint8Array {
  const g = new GraphBuilder('mmd-kernel-sums');
  const a = g.input('a', 'float32', ['P', 'K']);
  const b = g.input('b', 'float32', ['Q', 'K']);
  const product = g.op('Gemm', [a, b], { transB: 1 });
  const rowSums = reduceSum(g, g.op('Exp', [product]), [1], false);
  g.output(PRODUCT, product, 'float32', ['P', 'Q']);
  g.output(EXP_ROW_SUMS, rowSums, 'float32', ['P']);
  return g.toBytes();
}
