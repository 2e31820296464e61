/** Unweighted per-sample loss, the same formulas as the train-step graph (lib/onnx/losses.ts). */
import type { ScoredSamples } from './scored-samples.js';
import { logSumExp } from './softmax.js';

export function perSampleLoss(s: ScoredSamples): Float64Array {
  const loss = new Float64Array(s.n);
  for (let i = 0; i < s.n; i++) {
    const y = s.labels[i]!;
    if (s.loss === 'softmax-ce') {
      // −log softmax(z)_y = logsumexp(z) − z_y
      loss[i] = logSumExp(s.output, i * s.classes, s.classes) - s.output[i * s.classes + y]!;
    } else if (s.loss === 'bce-logits') {
      // softplus(z) − y·z, as relu(z) − y·z + log(1 + e^−|z|) so large |z| neither overflows nor cancels
      const z = s.output[i]!;
      loss[i] = Math.max(z, 0) - y * z + Math.log1p(Math.exp(-Math.abs(z)));
    } else {
      loss[i] = (s.output[i]! - y) ** 2;
    }
  }
  return loss;
}
