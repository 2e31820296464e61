/**
 * Training losses on the tape, each with per-sample weights: loss = sum(w·l) / max(sum(w), 1e-12), so all-zero
 * weights give loss 0 and zero gradients rather than NaN. The gradient w.r.t. the model output is closed-form.
 */
import type { Tape } from './autodiff/tape.js';
import { DataType } from './proto.js';
import { axes, reduceSum, scalar, squeeze, unsqueeze } from './ops.js';

/**
 * 'softmax-ce': logits [B, C], int64 labels [B]. 'bce-logits': one logit [B, 1], float targets in [0, 1] [B].
 * 'mse': one prediction [B, 1], float targets [B]; l = (o − y)², as nn.MSELoss.
 */
export type LossKind = 'softmax-ce' | 'bce-logits' | 'mse';

export interface LossOutputs {
  /** Scalar weighted mean; the tape's backward starts here. */
  loss: string;
  /** [B], unweighted. */
  perSampleLoss: string;
  /** [B]: L2 norm of d(l_i)/d(output_i), unweighted (GradNorm importance sampling). */
  perSampleGradNorm: string;
}

interface PerSample {
  loss: string;
  /** d(l_i)/d(output_i), [B, outputSize]. */
  grad: string;
  gradNorm: string;
}

export function weightedLoss(t: Tape, kind: LossKind, output: string, y: string, w: string, outputSize: number): LossOutputs {
  const { g } = t;
  const width = t.shape(output)[1];
  if (t.shape(output).length !== 2 || width !== outputSize) throw new Error(`${kind}: output [${t.shape(output)}] is not [B, ${outputSize}]`);
  if (kind !== 'softmax-ce' && outputSize !== 1) throw new Error(`${kind}: needs outputSize 1, got ${outputSize}`);
  const per = kind === 'softmax-ce' ? softmaxCrossEntropy(t, output, y, outputSize)
    : kind === 'bce-logits' ? binaryCrossEntropyWithLogits(t, output, y)
      : squaredError(t, output, y);
  const wsum = g.op('Max', [reduceSum(g, w, undefined, false), scalar(g, 1e-12)]);
  const loss = g.op('Div', [reduceSum(g, g.op('Mul', [w, per.loss]), undefined, false), wsum]);
  t.record([output], [loss], ([dLoss]) => {
    const rowScale = unsqueeze(g, g.op('Mul', [g.op('Div', [w, wsum]), dLoss!]), [1]);
    return [g.op('Mul', [per.grad, rowScale])];
  });
  return { loss, perSampleLoss: per.loss, perSampleGradNorm: per.gradNorm };
}

/** l = −log softmax(z)_y; dl/dz = softmax(z) − onehot(y). */
function softmaxCrossEntropy(t: Tape, logits: string, labels: string, numClasses: number): PerSample {
  const { g } = t;
  const logp = g.op('LogSoftmax', [logits], { axis: 1 });
  const labelCol = unsqueeze(g, labels, [1]);
  const loss = g.op('Neg', [squeeze(g, g.op('GatherElements', [logp, labelCol], { axis: 1 }), [1])]);
  const classes = g.const('int64', [numClasses], Array.from({ length: numClasses }, (_, i) => i));
  const onehot = g.op('Cast', [g.op('Equal', [labelCol, classes])], { to: DataType.float32 });
  const grad = g.op('Sub', [g.op('Exp', [logp]), onehot]);
  return { loss, grad, gradNorm: g.op('ReduceL2', [grad, axes(g, [1])], { keepdims: 0 }) };
}

/** l = softplus(z) − y·z, written as relu(z) − y·z + log(1 + e^−|z|) so large |z| neither overflows nor cancels; dl/dz = σ(z) − y. */
function binaryCrossEntropyWithLogits(t: Tape, output: string, targets: string): PerSample {
  const { g } = t;
  const z = squeeze(g, output, [1]);
  const loss = g.op('Add', [
    g.op('Sub', [g.op('Relu', [z]), g.op('Mul', [z, targets])]),
    g.op('Softplus', [g.op('Neg', [g.op('Abs', [z])])]),
  ]);
  return singleOutput(t, loss, g.op('Sub', [g.op('Sigmoid', [z]), targets]));
}

/** l = (o − y)²; dl/do = 2(o − y). */
function squaredError(t: Tape, output: string, targets: string): PerSample {
  const { g } = t;
  const diff = g.op('Sub', [squeeze(g, output, [1]), targets]);
  return singleOutput(t, g.op('Mul', [diff, diff]), g.op('Mul', [diff, scalar(g, 2)]));
}

function singleOutput(t: Tape, loss: string, grad: string): PerSample {
  return { loss, grad: unsqueeze(t.g, grad, [1]), gradNorm: t.g.op('Abs', [grad]) };
}
