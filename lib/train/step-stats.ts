/** Per-step losses and gradient norms of a trainModel call, reported step by step and summed up at the end. */
import type { Batch } from '../data/batch.js';
import { GRAD_NORM_OUTPUT } from '../onnx/optimizers.js';
import type { TensorData } from '../onnx/session-host.js';

export interface TrainProgress {
  /** Steps done by this trainModel call, this one included (1-based). */
  step: number;
  /** Samples consumed by this trainModel call so far. */
  samples: number;
  loss: number;
  /** Global gradient norm before clipping; only when the optimizer clips. */
  gradNorm?: number;
}

export interface GradNormStats {
  mean: number;
  max: number;
  /** Steps whose gradients were scaled down (norm above optimizer.clipGradNorm). */
  clippedSteps: number;
}

export class NonFiniteLossError extends Error {
  /** `step` counts the steps of the trainModel call that failed, as TrainProgress.step does. */
  constructor(readonly step: number, readonly loss: number) {
    super(`training loss is ${loss} at step ${step}`);
    this.name = 'NonFiniteLossError';
  }
}

export class StepStats {
  steps = 0;
  samples = 0;
  /** Loss of the last step; 0 before any. */
  finalLoss = 0;
  private lossSum = 0;
  private readonly norms = { sum: 0, max: 0, clipped: 0 };

  /** `clipGradNorm`: the optimizer's, when the train step outputs the gradient norm it clips by. */
  constructor(private readonly clipGradNorm: number | undefined, private readonly onProgress?: (p: TrainProgress) => void) {}

  /** The outputs a run must fetch for `record`. */
  get fetch(): string[] {
    return this.clipGradNorm === undefined ? ['loss'] : ['loss', GRAD_NORM_OUTPUT];
  }

  /** Records the steps of one run (`run` batches from step `first` of this call); throws on a non-finite loss. */
  record(run: Batch[], first: number, out: Record<string, TensorData>): void {
    const losses = out.loss!.data as Float32Array;
    const gradNorms = this.clipGradNorm === undefined ? undefined : (out[GRAD_NORM_OUTPUT]!.data as Float32Array);
    run.forEach((batch, j) => {
      const loss = losses[j]!;
      if (!Number.isFinite(loss)) throw new NonFiniteLossError(first + j, loss);
      this.steps++;
      this.samples += batch.size;
      this.lossSum += loss;
      this.finalLoss = loss;
      const gradNorm = gradNorms?.[j];
      if (gradNorm !== undefined) {
        this.norms.sum += gradNorm;
        this.norms.max = Math.max(this.norms.max, gradNorm);
        // The graph's clip coefficient min(1, max/(norm + 1e-6)) is below 1.
        if (this.clipGradNorm! < gradNorm + 1e-6) this.norms.clipped++;
      }
      this.onProgress?.({ step: first + j, samples: this.samples, loss, ...(gradNorm !== undefined && { gradNorm }) });
    });
  }

  /** Mean of the per-step losses; 0 before any step. */
  get meanLoss(): number {
    return this.steps ? this.lossSum / this.steps : 0;
  }

  /** Only when the optimizer clips and there were steps. */
  get gradNorm(): GradNormStats | undefined {
    if (this.clipGradNorm === undefined || !this.steps) return undefined;
    return { mean: this.norms.sum / this.steps, max: this.norms.max, clippedSteps: this.norms.clipped };
  }
}
