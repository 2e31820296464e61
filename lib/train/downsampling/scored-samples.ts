/**
 * What model-based downsampling sees of n samples: one scoring forward pass (outputs, penultimate activations) and
 * the targets. Every strategy takes this and returns picks; nothing here does I/O or runs a model.
 */

/** What a scoring forward pass gives for n samples of a softmax classifier (or a 1-output model for bce/mse). */
export interface ScoredSamples {
  n: number;
  /** Model outputs (logits), row-major [n, classes]. */
  output: Float32Array;
  classes: number;
  /** Loss kind of the model: 'softmax-ce' (labels are class ids), 'bce-logits' (0/1 targets, classes = 1) or 'mse' (float targets, classes = 1). */
  loss: 'softmax-ce' | 'bce-logits' | 'mse';
  /** Targets, [n]. */
  labels: ArrayLike<number>;
  /** Penultimate activations (the input of the last layer), row-major [n, embeddingSize]. */
  embedding: Float32Array;
  embeddingSize: number;
  /** RHO-LOSS only: the irreducible-loss model's outputs on the same samples, [n, classes]. */
  irreducibleOutput?: Float32Array;
}

/**
 * The picked samples: indexes into the scored samples (may repeat for sampling with replacement) and the weight of
 * each pick. In selection order, class by class and block by block where a strategy splits the samples: shuffle
 * before batching.
 */
export interface Picks {
  indexes: Uint32Array;
  weights: Float32Array;
}

/**
 * Shapes agree, outputs and embeddings are finite, and softmax-ce labels are class ids: a NaN would otherwise
 * surface as a silently wrong pick far from its cause.
 */
export function checkScoredSamples(s: ScoredSamples): void {
  const { n, classes, embeddingSize } = s;
  if (!Number.isInteger(n) || n < 1) throw new Error(`downsampling: n = ${n} must be a positive integer`);
  if (!Number.isInteger(classes) || classes < 1) throw new Error(`downsampling: classes = ${classes} must be a positive integer`);
  if (s.loss !== 'softmax-ce' && classes !== 1) throw new Error(`downsampling: loss ${s.loss} needs classes = 1, got ${classes}`);
  if (s.output.length !== n * classes) throw new Error(`downsampling: output holds ${s.output.length} values for n = ${n} × classes = ${classes}`);
  if (s.labels.length !== n) throw new Error(`downsampling: ${s.labels.length} labels for n = ${n}`);
  if (!Number.isInteger(embeddingSize) || embeddingSize < 0) throw new Error(`downsampling: embeddingSize = ${embeddingSize} must be a non-negative integer`);
  if (s.embedding.length !== n * embeddingSize) {
    throw new Error(`downsampling: embedding holds ${s.embedding.length} values for n = ${n} × embeddingSize = ${embeddingSize}`);
  }
  for (let i = 0; i < s.output.length; i++) {
    if (!Number.isFinite(s.output[i]!)) throw new Error(`downsampling: output of sample ${Math.floor(i / classes)} is ${s.output[i]}`);
  }
  for (let i = 0; i < s.embedding.length; i++) {
    if (!Number.isFinite(s.embedding[i]!)) throw new Error(`downsampling: embedding of sample ${Math.floor(i / embeddingSize)} holds ${s.embedding[i]}`);
  }
  for (let i = 0; i < n; i++) {
    const y = s.labels[i]!;
    const valid = s.loss === 'softmax-ce' ? Number.isInteger(y) && y >= 0 && y < classes : Number.isFinite(y);
    if (!valid) throw new Error(`downsampling: label of sample ${i} is ${y}${s.loss === 'softmax-ce' ? `, not a class id in [0, ${classes})` : ''}`);
  }
}

/** The samples at `indexes`, in that order, as their own ScoredSamples (per-class and per-block selection). */
export function subsetSamples(s: ScoredSamples, indexes: Uint32Array): ScoredSamples {
  const m = indexes.length;
  const output = new Float32Array(m * s.classes);
  const embedding = new Float32Array(m * s.embeddingSize);
  const labels = new Float64Array(m);
  for (let r = 0; r < m; r++) {
    const i = indexes[r]!;
    output.set(s.output.subarray(i * s.classes, (i + 1) * s.classes), r * s.classes);
    embedding.set(s.embedding.subarray(i * s.embeddingSize, (i + 1) * s.embeddingSize), r * s.embeddingSize);
    labels[r] = s.labels[i]!;
  }
  return { ...s, n: m, output, labels, embedding };
}
