/** Training losses: each emits the loss, the per-sample loss and the gradient w.r.t. its input. */
import type { GraphBuilder } from './graph.js';
import { DataType } from './proto.js';
import { reduceSum, scalar, squeeze, unsqueeze } from './ops.js';

export interface LossOutputs {
  /** Scalar: sum(w·per) / max(sum(w), 1e-12); all-zero weights give 0, not NaN. */
  loss: string;
  /** [B], unweighted. */
  perSampleLoss: string;
  /** Gradient of `loss` w.r.t. the loss input. */
  grad: string;
}

/** Softmax cross-entropy over logits [B,C] with int64 labels [B] and float sample weights [B]. */
export function softmaxCrossEntropy(
  g: GraphBuilder, logits: string, labels: string, weights: string, numClasses: number,
): LossOutputs {
  const logp = g.op('LogSoftmax', [logits], { axis: 1 });
  const labelCol = unsqueeze(g, labels, [1]);
  const perSampleLoss = g.op('Neg', [squeeze(g, g.op('GatherElements', [logp, labelCol], { axis: 1 }), [1])]);
  const wsum = g.op('Max', [reduceSum(g, weights, undefined, false), scalar(g, 1e-12)]);
  const loss = g.op('Div', [reduceSum(g, g.op('Mul', [weights, perSampleLoss]), undefined, false), wsum]);

  const classes = g.const('int64', [numClasses], Array.from({ length: numClasses }, (_, i) => i));
  const onehot = g.op('Cast', [g.op('Equal', [labelCol, classes])], { to: DataType.float32 });
  const rowScale = unsqueeze(g, g.op('Div', [weights, wsum]), [1]);
  const grad = g.op('Mul', [g.op('Sub', [g.op('Exp', [logp]), onehot]), rowScale]);
  return { loss, perSampleLoss, grad };
}
