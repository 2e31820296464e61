/**
 * A run of a trigger's epochs over one set of samples: the whole training set, or (sample-then-batch) one scoring
 * round's picks. Steps load `loadBatch` samples each (more than they train on with batch-then-sample); only an
 * epoch's last batch is short. Its arithmetic maps a step count to where training stands, which is how a resumed
 * attempt finds its place and how checkpoints count samples.
 */
export class EpochSegment {
  readonly batchesPerEpoch: number;
  /** Steps of the whole segment. */
  readonly steps: number;

  constructor(
    /** Samples in the set. */
    readonly size: number,
    /** First epoch (0-based, counted over the trigger) and the epoch after the last. */
    readonly firstEpoch: number,
    readonly endEpoch: number,
    readonly loadBatch: number,
    /** Samples a step trains on out of `loaded` loaded ones. */
    private readonly trainedOf: (loaded: number) => number = (loaded) => loaded,
  ) {
    this.batchesPerEpoch = Math.ceil(size / loadBatch);
    this.steps = this.batchesPerEpoch * (endEpoch - firstEpoch);
  }

  /** The epoch and the batches of it done after `steps` steps of the segment. */
  position(steps: number): { epoch: number; skipBatches: number } {
    if (this.batchesPerEpoch === 0) return { epoch: this.endEpoch, skipBatches: 0 };
    return { epoch: this.firstEpoch + Math.floor(steps / this.batchesPerEpoch), skipBatches: steps % this.batchesPerEpoch };
  }

  /** Samples trained on in the first `steps` steps. */
  trainedAfter(steps: number): number {
    return this.after(steps, this.trainedOf);
  }

  /** Samples loaded (and, with batch-then-sample, scored) in the first `steps` steps. */
  loadedAfter(steps: number): number {
    return this.after(steps, (loaded) => loaded);
  }

  private after(steps: number, count: (loaded: number) => number): number {
    if (this.batchesPerEpoch === 0) return 0;
    const full = Math.floor(this.size / this.loadBatch);
    const last = this.size - full * this.loadBatch;
    const perEpoch = full * count(this.loadBatch) + (last > 0 ? count(last) : 0);
    const into = steps % this.batchesPerEpoch;
    return Math.floor(steps / this.batchesPerEpoch) * perEpoch + Math.min(into, full) * count(this.loadBatch) + (into > full ? count(last) : 0);
  }
}

/** The epochs of each scoring round of sample-then-batch: `period` epochs each, or all of them when period is 0. */
export function roundEpochs(epochs: number, period: number): Array<[number, number]> {
  const every = period === 0 ? epochs : period;
  const rounds: Array<[number, number]> = [];
  for (let first = 0; first < epochs; first += every) rounds.push([first, Math.min(first + every, epochs)]);
  return rounds;
}
