/**
 * Selection over parts of the samples: per class (the `balance` option, as Modyn's per-label downsamplers) and
 * per block of consecutive samples (`selectionBatch`, so a similarity matrix is only ever [block, block]). Each
 * part gets its proportional share of k.
 */
import { proportionalShares } from './budget.js';
import { subsetSamples, type Picks, type ScoredSamples } from './scored-samples.js';

/** What a strategy with a `balance` option selects over: each label's samples, or all samples as one part. */
export function balanceParts(s: ScoredSamples, balance: boolean): Uint32Array[] {
  return balance ? classParts(s) : [Uint32Array.from({ length: s.n }, (_, i) => i)];
}

/** Indexes of each distinct label, labels in ascending order. */
export function classParts(s: ScoredSamples): Uint32Array[] {
  const members = new Map<number, number[]>();
  for (let i = 0; i < s.n; i++) {
    const y = s.labels[i]!;
    const list = members.get(y);
    if (list) list.push(i);
    else members.set(y, [i]);
  }
  return [...members.keys()].sort((a, b) => a - b).map((y) => Uint32Array.from(members.get(y)!));
}

/** Consecutive blocks of `blockSize` indexes; the last one may be shorter. */
export function blockParts(n: number, blockSize: number): Uint32Array[] {
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new Error(`downsampling: selectionBatch = ${blockSize} must be a positive integer`);
  const parts: Uint32Array[] = [];
  for (let start = 0; start < n; start += blockSize) {
    parts.push(Uint32Array.from({ length: Math.min(blockSize, n - start) }, (_, r) => start + r));
  }
  return parts;
}

/** Runs `select` on each part with its share of k and maps the picks back to indexes of `s`, part after part. */
export function selectInParts(s: ScoredSamples, parts: Uint32Array[], k: number, select: (part: ScoredSamples, k: number) => Picks): Picks {
  if (parts.length === 1 && parts[0]!.length === s.n) return select(s, k);
  const shares = proportionalShares(parts.map((p) => p.length), k);
  const indexes = new Uint32Array(k);
  const weights = new Float32Array(k);
  let filled = 0;
  parts.forEach((part, g) => {
    if (shares[g] === 0) return;
    const picks = select(subsetSamples(s, part), shares[g]!);
    for (let r = 0; r < picks.indexes.length; r++) indexes[filled + r] = part[picks.indexes[r]!]!;
    weights.set(picks.weights, filled);
    filled += picks.indexes.length;
  });
  return { indexes, weights };
}
