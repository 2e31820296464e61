/**
 * Greedy maximization of a submodular set function under a cardinality budget k. The functions keep their own
 * state of the chosen set, so each optimizer only asks for marginal gains and announces additions.
 */
import type { Rng } from '../../rng.js';

/** f over the ground set {0, …, size − 1}, seen through marginal gains against a state holding the chosen set A. */
export interface SubmodularFunction<State> {
  size: number;
  /** The state of A = ∅. */
  empty(): State;
  /** f(A ∪ {c}) − f(A). */
  gain(state: State, candidate: number): number;
  /** A ← A ∪ {c}. */
  add(state: State, candidate: number): void;
}

export type Greedy = 'naive' | 'lazy' | 'stochastic';

/** Stochastic greedy's ε: each round looks at (n/k)·ln(1/ε) candidates, for a (1 − 1/e − ε) guarantee in expectation. */
const stochasticEpsilon = 0.01;

/** The k picks in the order chosen. */
export function greedyMaximize<State>(f: SubmodularFunction<State>, k: number, greedy: Greedy, rng: Rng): Uint32Array {
  if (greedy === 'naive') return naiveGreedy(f, k);
  if (greedy === 'lazy') return lazyGreedy(f, k);
  return stochasticGreedy(f, k, rng);
}

/** Every unchosen candidate's gain, every round: O(k·n) gains. Ties go to the lower index. */
export function naiveGreedy<State>(f: SubmodularFunction<State>, k: number): Uint32Array {
  const state = f.empty();
  const chosen = new Uint8Array(f.size);
  const picks = new Uint32Array(k);
  for (let r = 0; r < k; r++) {
    let best = -1;
    let bestGain = -Infinity;
    for (let c = 0; c < f.size; c++) {
      if (chosen[c]) continue;
      const g = f.gain(state, c);
      if (best < 0 || g > bestGain) [best, bestGain] = [c, g];
    }
    picks[r] = best;
    chosen[best] = 1;
    f.add(state, best);
  }
  return picks;
}

/**
 * Minoux's lazy greedy: by submodularity a gain only shrinks as A grows, so a gain computed in an earlier round is
 * an upper bound. A max-heap on (bound, then lower index) re-evaluates only its top until the top's gain is fresh
 * this round; that top beats every other candidate's true gain, ties included, so the picks are exactly naive
 * greedy's. The functions here update their state monotonically, so rounding keeps the bounds valid too.
 */
export function lazyGreedy<State>(f: SubmodularFunction<State>, k: number): Uint32Array {
  const n = f.size;
  const state = f.empty();
  const bound = new Float64Array(n);
  const freshIn = new Int32Array(n);
  for (let c = 0; c < n; c++) bound[c] = f.gain(state, c);
  const above = (a: number, b: number) => bound[a]! > bound[b]! || (bound[a] === bound[b] && a < b);
  const heap = Uint32Array.from({ length: n }, (_, c) => c);
  let size = n;
  const siftDown = (at: number) => {
    for (;;) {
      const left = 2 * at + 1;
      if (left >= size) return;
      const child = left + 1 < size && above(heap[left + 1]!, heap[left]!) ? left + 1 : left;
      if (!above(heap[child]!, heap[at]!)) return;
      [heap[at], heap[child]] = [heap[child]!, heap[at]!];
      at = child;
    }
  };
  for (let at = (n >> 1) - 1; at >= 0; at--) siftDown(at);
  const picks = new Uint32Array(k);
  for (let r = 0; r < k; r++) {
    while (freshIn[heap[0]!] !== r) {
      const top = heap[0]!;
      bound[top] = f.gain(state, top);
      freshIn[top] = r;
      siftDown(0);
    }
    const best = heap[0]!;
    picks[r] = best;
    f.add(state, best);
    heap[0] = heap[--size]!;
    siftDown(0);
  }
  return picks;
}

/**
 * Mirzasoleiman et al.'s stochastic greedy: each round takes the best of a seeded uniform sample of
 * ceil((n/k)·ln(1/ε)) unchosen candidates (ties: the lower index): O(n·ln(1/ε)) gains in all.
 */
export function stochasticGreedy<State>(f: SubmodularFunction<State>, k: number, rng: Rng): Uint32Array {
  const state = f.empty();
  const remaining = Uint32Array.from({ length: f.size }, (_, c) => c);
  let left = f.size;
  const sampleSize = Math.ceil((f.size / k) * Math.log(1 / stochasticEpsilon));
  const picks = new Uint32Array(k);
  for (let r = 0; r < k; r++) {
    const s = Math.min(sampleSize, left);
    let best = -1;
    let bestGain = -Infinity;
    for (let i = 0; i < s; i++) {
      // Partial Fisher–Yates: remaining[0, s) becomes a uniform sample without replacement.
      const j = i + rng.int(left - i);
      [remaining[i], remaining[j]] = [remaining[j]!, remaining[i]!];
      const c = remaining[i]!;
      const g = f.gain(state, c);
      if (best < 0 || g > bestGain || (g === bestGain && c < remaining[best]!)) [best, bestGain] = [i, g];
    }
    picks[r] = remaining[best]!;
    f.add(state, picks[r]!);
    remaining[best] = remaining[--left]!;
  }
  return picks;
}
