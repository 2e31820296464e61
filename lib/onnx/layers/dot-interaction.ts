/**
 * DLRM's dot interaction (interaction_op='dot', no self-interaction). T = [dense; e_1; …; e_F] is [B, N, K] with
 * N = F + 1; Z = T·Tᵀ. The output is [dense, Z's strictly lower triangle] = [B, K + N(N−1)/2], the pairs in
 * DLRM's order (i, j) for i = 1..N−1, j = 0..i−1.
 *
 * Backward: with dZ holding the pair gradients in the lower triangle, dT = (dZ + dZᵀ)·T. dZ + dZᵀ is symmetric
 * and built by one Gather from the pair gradients padded with a zero column (the diagonal reads the zero).
 */
import type { Tape } from '../autodiff/tape.js';
import { reshape, squeeze, unsqueeze } from '../ops.js';
import { expectRank, withBatchOf } from './shapes.js';

/** Number of pairwise dots for `n` stacked vectors. */
export const interactionPairs = (n: number): number => (n * (n - 1)) / 2;

/** dense [B, K], embeddings [B, F, K] → [B, K + (F+1)F/2]. */
export function dotInteraction(t: Tape, dense: string, embeddings: string): string {
  const { g } = t;
  const [k] = expectRank(t, dense, 2, 'dotInteraction dense') as [number];
  const [f, ke] = expectRank(t, embeddings, 3, 'dotInteraction embeddings') as [number, number];
  if (ke !== k) throw new Error(`dotInteraction: dense width ${k} differs from the embedding dim ${ke}`);
  const n = f + 1;
  const pairs = interactionPairs(n);
  const flat: number[] = []; // pair p → its flat index i·N + j in Z
  const sym = new Array<number>(n * n).fill(pairs); // flat index in dZ + dZᵀ → its pair, diagonal → the zero column
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < i; j++) {
      sym[i * n + j] = sym[j * n + i] = flat.length;
      flat.push(i * n + j);
    }
  }

  const stacked = g.op('Concat', [unsqueeze(g, dense, [1]), embeddings], { axis: 1 }); // [B, N, K]
  const z = g.op('MatMul', [stacked, g.op('Transpose', [stacked], { perm: [0, 2, 1] })]); // [B, N, N]
  const dots = g.op('Gather', [reshape(g, z, [0, n * n]), g.const('int64', [pairs], flat)], { axis: 1 }); // [B, P]
  const y = g.op('Concat', [dense, dots], { axis: 1 });

  t.record([dense, embeddings], [y], ([dy], [needDense, needEmb]) => {
    const [dDenseDirect, dDots] = g.opN('Split', [dy!, g.const('int64', [2], [k, pairs])], 2, { axis: 1 });
    const padded = g.op('Pad', [dDots!, g.const('int64', [4], [0, 0, 0, 1])]); // [B, P + 1], last column 0
    const dSym = reshape(g, g.op('Gather', [padded, g.const('int64', [n * n], sym)], { axis: 1 }), [0, n, n]);
    const dT = g.op('MatMul', [dSym, stacked]); // [B, N, K]
    const [dFirst, dEmb] = g.opN('Split', [dT, g.const('int64', [2], [1, f])], 2, { axis: 1 });
    return [
      needDense ? g.op('Add', [dDenseDirect!, squeeze(g, dFirst!, [1])]) : undefined,
      needEmb ? dEmb : undefined,
    ];
  });
  return withBatchOf(t, y, dense, [k + pairs]);
}
