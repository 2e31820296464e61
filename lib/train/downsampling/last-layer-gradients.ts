/**
 * Per-sample gradients of the loss in closed form from the forward pass alone: w.r.t. the logits (the last
 * layer's bias), and w.r.t. the whole last layer (weights too: the logit gradient times the embedding). GradNorm,
 * GradMatch, CRAIG and Submodular use these as cheap stand-ins for the full gradient, as Modyn/DeepCore do; as
 * rows (OMP needs them), or as their inner products only (similarities do), which skips the classes·embeddingSize
 * outer product.
 */
import type { ScoredSamples } from './scored-samples.js';
import { sigmoid, softmaxInto } from './softmax.js';

export type FullGradApproximation = 'lastLayer' | 'lastLayerWithEmbedding';

/** Row-major per-sample vectors: row i is data[i·dim, (i+1)·dim). */
export interface GradientRows {
  data: Float32Array;
  dim: number;
}

/**
 * d l_i / d z_i, [n, classes]. softmax-ce: softmax(z) − onehot(y); bce-logits: σ(z) − y; mse: 2(z − y), matching
 * the l = (z − y)² convention of lib/onnx/losses.ts (not the ½ of some texts).
 */
export function logitGradients(s: ScoredSamples): Float64Array {
  const { n, classes } = s;
  const grad = new Float64Array(n * classes);
  for (let i = 0; i < n; i++) {
    const y = s.labels[i]!;
    if (s.loss === 'softmax-ce') {
      const row = grad.subarray(i * classes, (i + 1) * classes);
      softmaxInto(s.output, i * classes, classes, row);
      row[y]! -= 1;
    } else if (s.loss === 'bce-logits') {
      grad[i] = sigmoid(s.output[i]!) - y;
    } else {
      grad[i] = 2 * (s.output[i]! - y);
    }
  }
  return grad;
}

/** ‖d l_i / d z_i‖₂ per sample: the GradNorm score, as the train-step graph's perSampleGradNorm. */
export function gradientNorms(s: ScoredSamples): Float64Array {
  const grad = logitGradients(s);
  const norms = new Float64Array(s.n);
  for (let i = 0; i < s.n; i++) {
    let sum = 0;
    for (let c = 0; c < s.classes; c++) sum += grad[i * s.classes + c]! ** 2;
    norms[i] = Math.sqrt(sum);
  }
  return norms;
}

/**
 * 'lastLayer': the logit gradient g (= the bias gradient), dim = classes. 'lastLayerWithEmbedding': for logits
 * z = W·e + b, [g, g ⊗ e] — the bias part, then dl/dW row-major [classes, embeddingSize] (W_ce's gradient is
 * g_c·e_e) — dim = classes·(1 + embeddingSize), the layout of Modyn's `_compute_last_two_layers_gradient`. Only
 * inner products and distances of these rows are ever used, so any fixed order of the entries would do.
 */
export function lastLayerGradients(s: ScoredSamples, approximation: FullGradApproximation): GradientRows {
  const grad = logitGradients(s);
  const { n, classes, embeddingSize } = s;
  if (approximation === 'lastLayer') return { data: Float32Array.from(grad), dim: classes };
  if (embeddingSize === 0) throw new Error('downsampling: lastLayerWithEmbedding needs embeddings (embeddingSize is 0)');
  const dim = classes * (1 + embeddingSize);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const row = i * dim;
    for (let c = 0; c < classes; c++) {
      const g = grad[i * classes + c]!;
      data[row + c] = g;
      const weights = row + classes + c * embeddingSize;
      for (let e = 0; e < embeddingSize; e++) data[weights + e] = g * s.embedding[i * embeddingSize + e]!;
    }
  }
  return { data, dim };
}

/** Inner products of n per-sample vectors: all that cosine and Euclidean similarities need. */
export interface GradientSpace {
  size: number;
  dot(i: number, j: number): number;
}

/**
 * The inner products of lastLayerGradients' rows without forming them: [g_i, g_i ⊗ e_i]·[g_j, g_j ⊗ e_j] =
 * (g_i·g_j)(1 + e_i·e_j), O(classes + embeddingSize) per pair instead of O(classes·embeddingSize).
 */
export function gradientSpace(s: ScoredSamples, approximation: FullGradApproximation): GradientSpace {
  const grad = logitGradients(s);
  const { classes, embeddingSize, embedding } = s;
  if (approximation === 'lastLayerWithEmbedding' && embeddingSize === 0) throw new Error('downsampling: lastLayerWithEmbedding needs embeddings (embeddingSize is 0)');
  const logitDot = (i: number, j: number) => {
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += grad[i * classes + c]! * grad[j * classes + c]!;
    return sum;
  };
  if (approximation === 'lastLayer') return { size: s.n, dot: logitDot };
  return {
    size: s.n,
    dot(i, j) {
      let e = 1;
      for (let d = 0; d < embeddingSize; d++) e += embedding[i * embeddingSize + d]! * embedding[j * embeddingSize + d]!;
      return logitDot(i, j) * e;
    },
  };
}
