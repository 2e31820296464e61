import { FORMAT_PRESETS } from '../data/dataset-config.js';
import { createRng, type Rng } from '../rng.js';
import { hash32 } from './hash.js';
import { driftPoint, optionsFrom, phaseOf, phaseStart, sampleTime, type Stream, type StreamFormat } from './stream.js';

/**
 * Click records in Criteo's layout — label, 13 integer counts, 26 categorical ids — from a hidden logistic model:
 * logit = bias + Σ_j a_j·(log1p(count_j) − mean_j) + Σ_f effect_f(id_f), label ~ Bernoulli(σ(logit)). A model sees
 * the counts as the format decodes them (log1p), and each id's effect is a fixed function of the id, so a DLRM can
 * learn both. Two drifts:
 * - the click rate: the bias steps down at the second half of the periods;
 * - new ids: from period 1 on, each id is new (never seen in an earlier period) with probability NEW_ID_FRACTION,
 *   else one seen before, uniformly.
 */
export const DENSE_FEATURES = 13;
export const CATEGORICAL_FEATURES = 26;
export const NEW_ID_FRACTION = 0.2;
/** The bias of each half of the periods: a click rate near 25% (Criteo's), then near 13%. */
export const CTR_BIASES = [-1.8, -2.8];
/** Spread of the hidden model: count weights a_j ~ N(0, DENSE_WEIGHT²), id effects ~ N(0, ID_EFFECT²). */
const DENSE_WEIGHT = 0.4;
const ID_EFFECT = 0.25;
/** Ids introduced per field: in period 0 one per 20 samples, later one per 8 new-id draws, so each id recurs. */
const FIRST_IDS_PER_SAMPLE = 1 / 20;
const DRAWS_PER_NEW_ID = 8;
const NAME = 'criteo-drift';
const TIMESTAMP_OFFSET = 4 * (1 + DENSE_FEATURES + CATEGORICAL_FEATURES);

/** Criteo's preset (int32 label, counts decoded with log1p, int32 ids) with an int64 timestamp after the ids. */
export const CRITEO_DRIFT_FORMAT: StreamFormat = {
  ...structuredClone(FORMAT_PRESETS.criteo),
  recordSize: TIMESTAMP_OFFSET + 8,
  timestamp: { offset: TIMESTAMP_OFFSET, type: 'int64' },
};

/** The hidden model of a seed. */
export interface ClickModel {
  /** Count j is floor(expm1(scale_j·|z|)), z standard normal. */
  scales: number[];
  weights: number[];
  seed: number;
  /** Each field's id effects computed so far (ids recur). */
  effects: Map<number, number>[];
}

export function clickModel(seed: number): ClickModel {
  const rng = createRng(hash32(seed, 0));
  const scales = Array.from({ length: DENSE_FEATURES }, () => rng.uniform(0.5, 2.5));
  const weights = Array.from({ length: DENSE_FEATURES }, () => DENSE_WEIGHT * rng.normal());
  return { scales, weights, seed, effects: Array.from({ length: CATEGORICAL_FEATURES }, () => new Map()) };
}

/** The effect of id `id` of field `field` on the logit. */
export function idEffect(model: ClickModel, field: number, id: number): number {
  const known = model.effects[field]!;
  let effect = known.get(id);
  if (effect === undefined) {
    effect = ID_EFFECT * createRng(hash32(model.seed, 1, field, id)).normal();
    known.set(id, effect);
  }
  return effect;
}

/** The hidden model's logit for a record's counts and ids, bias excluded. */
export function clickLogit(model: ClickModel, counts: ArrayLike<number>, ids: ArrayLike<number>): number {
  let logit = 0;
  // E|z| = √(2/π): centring keeps the bias the only thing that sets the click rate.
  for (let j = 0; j < DENSE_FEATURES; j++) logit += model.weights[j]! * (Math.log1p(counts[j]!) - model.scales[j]! * Math.sqrt(2 / Math.PI));
  for (let f = 0; f < CATEGORICAL_FEATURES; f++) logit += idEffect(model, f, ids[f]!);
  return logit;
}

/** The ids of one field: those seen in earlier periods, and fresh ones, distinct from every id before. */
class FieldIds {
  private readonly seen: number[] = [];
  private readonly seenSet = new Set<number>();
  /** Every id introduced so far, drawn or not. */
  private readonly known = new Set<number>();
  private fresh: number[] = [];
  private next = 0;

  constructor(private readonly seed: number, private readonly field: number) {}

  /** Starts a period with `count` ids never used before. */
  introduce(count: number): void {
    this.fresh = [];
    while (this.fresh.length < count) {
      // Non-negative int32, like hashed Criteo ids; a rare collision with an earlier id is skipped.
      const id = hash32(this.seed, 2, this.field, this.next++) & 0x7fffffff;
      if (!this.known.has(id)) {
        this.known.add(id);
        this.fresh.push(id);
      }
    }
  }

  draw(rng: Rng, fresh: boolean): number {
    return fresh ? this.fresh[rng.int(this.fresh.length)]! : this.seen[rng.int(this.seen.length)]!;
  }

  /** Ends a period: the fresh ids it used become seen. */
  remember(used: Iterable<number>): void {
    for (const id of used) {
      if (this.seenSet.has(id)) continue;
      this.seenSet.add(id);
      this.seen.push(id);
    }
  }
}

export const criteoDrift: Stream = {
  name: NAME,
  description: `Criteo-layout clicks (13 counts, 26 ids) from a hidden logistic model; click rate steps down at mid-stream, ${NEW_ID_FRACTION * 100}% of ids new each period`,
  format: CRITEO_DRIFT_FORMAT,
  options: (flags) => optionsFrom(NAME, flags, { periods: 8, samplesPerPeriod: 2000, seed: 7 }, CTR_BIASES.length),
  driftPoints: ({ periods }) => [driftPoint(phaseStart(1, periods, CTR_BIASES.length), `click-rate bias ${CTR_BIASES[0]} → ${CTR_BIASES[1]} (click rate ≈ 25% → ≈ 13%)`)],
  async *periods({ periods, samplesPerPeriod, seed }) {
    const model = clickModel(seed);
    const rng = createRng(hash32(seed, 3));
    const fields = Array.from({ length: CATEGORICAL_FEATURES }, (_, f) => new FieldIds(seed, f));
    const { recordSize, label, features, categorical } = CRITEO_DRIFT_FORMAT;
    const counts = new Int32Array(DENSE_FEATURES);
    const ids = new Int32Array(CATEGORICAL_FEATURES);
    for (let p = 0; p < periods; p++) {
      const bias = CTR_BIASES[phaseOf(p, periods, CTR_BIASES.length)]!;
      const introduced = p === 0 ? samplesPerPeriod * FIRST_IDS_PER_SAMPLE : (samplesPerPeriod * NEW_ID_FRACTION) / DRAWS_PER_NEW_ID;
      for (const field of fields) field.introduce(Math.max(1, Math.ceil(introduced)));
      const used = fields.map(() => new Set<number>());
      const buffer = Buffer.alloc(samplesPerPeriod * recordSize);
      for (let i = 0; i < samplesPerPeriod; i++) {
        for (let j = 0; j < DENSE_FEATURES; j++) counts[j] = Math.floor(Math.expm1(model.scales[j]! * Math.abs(rng.normal())));
        for (let f = 0; f < CATEGORICAL_FEATURES; f++) {
          ids[f] = fields[f]!.draw(rng, p === 0 || rng.next() < NEW_ID_FRACTION);
          used[f]!.add(ids[f]!);
        }
        const click = rng.next() < 1 / (1 + Math.exp(-(bias + clickLogit(model, counts, ids)))) ? 1 : 0;
        const at = i * recordSize;
        buffer.writeInt32LE(click, at + label.offset);
        counts.forEach((v, j) => buffer.writeInt32LE(v, at + features.offset + 4 * j));
        ids.forEach((v, f) => buffer.writeInt32LE(v, at + categorical!.offset + 4 * f));
        buffer.writeBigInt64LE(BigInt(sampleTime(p, i, samplesPerPeriod)), at + TIMESTAMP_OFFSET);
      }
      fields.forEach((field, f) => field.remember(used[f]!));
      yield buffer;
    }
  },
};
