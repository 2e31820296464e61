/**
 * Every registered downsampler, through the registry with the options the spec schema parses to: k picks of valid
 * samples with finite non-negative weights, k out of range named in the error, and the same picks for the same
 * (seed, epoch).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { downsamplerSchema } from '../../policies/selection/downsampling-schema.js';
import { proportionalShares } from '../../lib/train/downsampling/budget.js';
import { downsamplers, type Downsampler, type StrategyName } from '../../lib/train/downsampling/index.js';
import type { ScoredSamples } from '../../lib/train/downsampling/scored-samples.js';
import { createRng } from '../../lib/rng.js';

function randomSamples(n: number, seed: number): ScoredSamples {
  const rng = createRng(seed);
  const classes = 3;
  return {
    n, classes, loss: 'softmax-ce', embeddingSize: 4,
    output: Float32Array.from({ length: n * classes }, () => 2 * rng.normal()),
    labels: Float64Array.from({ length: n }, () => rng.int(classes)),
    embedding: Float32Array.from({ length: n * 4 }, () => rng.normal()),
    irreducibleOutput: Float32Array.from({ length: n * classes }, () => 2 * rng.normal()),
  };
}

const names = Object.keys(downsamplers) as StrategyName[];
/** Each strategy's options as the spec schema fills them in, plus variants that take other code paths. */
const variants = (strategy: StrategyName): object[] => {
  const mode = strategy === 'rs2' ? {} : strategy === 'rhoLoss' ? { holdout: { ratio: 0.1 } } : { mode: 'sampleThenBatch' };
  const parsed = downsamplerSchema.parse({ strategy, ratio: 0.25, ...mode });
  const more: Record<string, object[]> = {
    rs2: [{ withReplacement: true }],
    uncertainty: [{ scoreMetric: 'margin', balance: true }],
    kCenterGreedy: [{ balance: true }],
    gradMatch: [{ fullGradApproximation: 'lastLayerWithEmbedding', balance: true }],
    craig: [{ greedy: 'stochastic', balance: true, fullGradApproximation: 'lastLayerWithEmbedding' }],
    submodular: [{ submodularFunction: 'graphCut', greedy: 'naive' }, { submodularFunction: 'logDeterminant', greedy: 'stochastic', balance: true }],
  };
  return [parsed, ...(more[strategy] ?? []).map((o) => ({ ...parsed, ...o }))];
};
const select = (name: StrategyName, samples: ScoredSamples, k: number, options: object, seed: number, epoch: number) =>
  (downsamplers[name] as Downsampler<object>).select(samples, k, options, seed, epoch);

describe('downsampler registry', () => {
  it('registers the nine strategies with what each needs', () => {
    assert.deepEqual(Object.fromEntries(names.map((n) => [n, downsamplers[n].needs])), {
      loss: 'outputs', gradNorm: 'outputs', uncertainty: 'outputs', kCenterGreedy: 'embeddings',
      gradMatch: 'gradients', craig: 'gradients', submodular: 'gradients', rhoLoss: 'outputs', rs2: 'nothing',
    });
  });

  const s = randomSamples(90, 1);
  for (const name of names) {
    it(`${name}: k valid picks, repeatable for the same seed and epoch`, () => {
      for (const options of variants(name)) {
        for (const k of [1, 23, 90]) {
          const picks = select(name, s, k, options, 11, 2);
          assert.equal(picks.indexes.length, k);
          assert.equal(picks.weights.length, k);
          for (const i of picks.indexes) assert.ok(i < s.n);
          for (const w of picks.weights) assert.ok(Number.isFinite(w) && w >= 0, `weight ${w}`);
          // Only importance sampling draws with replacement.
          if (name !== 'loss' && name !== 'gradNorm') assert.equal(new Set(picks.indexes).size, k, JSON.stringify(options));
          assert.deepEqual(select(name, s, k, options, 11, 2), picks, JSON.stringify(options));
          if ('balance' in options && options.balance) {
            const sizes = [0, 1, 2].map((y) => Array.from(s.labels).filter((l) => l === y).length);
            const counts = [0, 1, 2].map((y) => Array.from(picks.indexes).filter((i) => s.labels[i] === y).length);
            assert.deepEqual(counts, Array.from(proportionalShares(sizes, k)), JSON.stringify(options));
          }
        }
      }
    });

    it(`${name}: k out of range is an error naming k`, () => {
      for (const k of [0, 91, 2.5, NaN]) assert.throws(() => select(name, s, k, variants(name)[0]!, 1, 0), new RegExp(`k = ${k} must be an integer in \\[1, 90\\]`));
    });
  }

  it('randomized strategies draw differently for another seed or epoch', () => {
    for (const name of ['loss', 'gradNorm', 'kCenterGreedy', 'rs2'] as const) {
      const options = variants(name)[0]!;
      const picks = select(name, s, 10, options, 11, 2);
      assert.notDeepEqual(select(name, s, 10, options, 12, 2).indexes, picks.indexes, name);
      assert.notDeepEqual(select(name, s, 10, options, 11, 3).indexes, picks.indexes, name);
    }
  });

  it('RS2 needs only n', () => {
    assert.equal(downsamplers.rs2.select({ n: 12 }, 4, { withReplacement: false }, 1, 0).indexes.length, 4);
  });
});

describe('proportionalShares', () => {
  it('rounds by largest remainder to exactly k, never beyond a group, ties to the earlier group', () => {
    assert.deepEqual(Array.from(proportionalShares([10, 50, 30], 45)), [5, 25, 15]);
    assert.deepEqual(Array.from(proportionalShares([1, 1, 1], 2)), [1, 1, 0]);
    assert.deepEqual(Array.from(proportionalShares([3, 5, 2], 10)), [3, 5, 2]);
    const rng = createRng(1);
    for (let trial = 0; trial < 200; trial++) {
      const sizes = Array.from({ length: 1 + rng.int(6) }, () => 1 + rng.int(20));
      const total = sizes.reduce((a, b) => a + b, 0);
      const k = 1 + rng.int(total);
      const shares = Array.from(proportionalShares(sizes, k));
      assert.equal(shares.reduce((a, b) => a + b, 0), k);
      shares.forEach((share, g) => assert.ok(share <= sizes[g]! && Math.abs(share - (k * sizes[g]!) / total) < 1, `${sizes} k ${k}: ${shares}`));
    }
  });
});
