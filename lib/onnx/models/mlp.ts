/** MLP classifier: Linear → ReLU per hidden layer, then a Linear head. Layers are named fc1..fcN. */
import { GraphBuilder } from '../graph.js';
import { linearBackward, linearForward, linearParams, type LinearParams } from '../layers/linear.js';
import { reluBackward, reluForward } from '../layers/relu.js';
import { softmaxCrossEntropy } from '../losses.js';
import { appendOptimizer, type OptimizerConfig } from '../optimizers.js';
import type { ParamSpec } from '../params.js';

export type { ParamSpec } from '../params.js';

export interface MlpConfig { inputSize: number; hidden: number[]; numClasses: number }

export interface TrainStepDebug {
  /** Also output `<param>__grad` for every parameter (gradient checks). */
  emitGradients?: boolean;
}

function layerSizes(cfg: MlpConfig): number[] {
  return [cfg.inputSize, ...cfg.hidden, cfg.numClasses];
}

export function mlpParameters(cfg: MlpConfig): ParamSpec[] {
  const sizes = layerSizes(cfg);
  return sizes.slice(1).flatMap((out, i) => linearParams(`fc${i + 1}`, sizes[i]!, out));
}

interface Forward {
  /** Input of each linear layer: x, then the hidden activations. */
  layerInputs: string[];
  logits: string;
}

function forward(g: GraphBuilder, x: string, layers: LinearParams[]): Forward {
  const layerInputs = [x];
  let h = x;
  layers.forEach((p, i) => {
    const z = linearForward(g, h, p);
    h = i < layers.length - 1 ? reluForward(g, z) : z;
    if (i < layers.length - 1) layerInputs.push(h);
  });
  return { layerInputs, logits: h };
}

/** Pairs up parameter value names (inputs or initializers) into per-layer weight/bias. */
function linearLayers(specs: ParamSpec[], valueOf: (spec: ParamSpec) => string): LinearParams[] {
  const layers: LinearParams[] = [];
  for (let i = 0; i < specs.length; i += 2) layers.push({ weight: valueOf(specs[i]!), bias: valueOf(specs[i + 1]!) });
  return layers;
}

/**
 * Inference graph. With `weights`, parameters are embedded as initializers (a plain servable model: only input `x`);
 * without, parameters are graph inputs named as in mlpParameters.
 * Outputs: `logits` [B,C], `embedding` [B,lastHidden] (penultimate activation; for hidden=[] the input itself).
 */
export function buildMlpInference(cfg: MlpConfig, weights?: Record<string, Float32Array>): Uint8Array {
  const g = new GraphBuilder('mlp_inference');
  const x = g.input('x', 'float32', ['B', cfg.inputSize]);
  const specs = mlpParameters(cfg);
  const layers = linearLayers(specs, (s) => {
    if (!weights) return g.input(s.name, 'float32', s.shape);
    const w = weights[s.name];
    if (!w) throw new Error(`buildMlpInference: missing weight ${s.name}`);
    return g.initializer(s.name, 'float32', s.shape, w);
  });
  const { layerInputs, logits } = forward(g, x, layers);
  g.output('logits', logits, 'float32', ['B', cfg.numClasses]);
  g.output('embedding', layerInputs.at(-1)!, 'float32', ['B', cfg.hidden.at(-1) ?? cfg.inputSize]);
  return g.toBytes();
}

/**
 * Train-step graph: inputs = every parameter, every optimizer-state tensor, `x` [B,in] float, `y` [B] int64,
 * `w` [B] float, `lr` scalar float, `step` scalar float (1-based step being taken).
 * Outputs: `<param>__new`, `<state>__new`, `loss` scalar, `per_sample_loss` [B]. Symbolic batch dim `B`.
 */
export function buildMlpTrainStep(cfg: MlpConfig, opt: OptimizerConfig, debug: TrainStepDebug = {}): Uint8Array {
  const g = new GraphBuilder('mlp_train_step');
  const specs = mlpParameters(cfg);
  const layers = linearLayers(specs, (s) => g.input(s.name, 'float32', s.shape));
  const x = g.input('x', 'float32', ['B', cfg.inputSize]);
  const y = g.input('y', 'int64', ['B']);
  const w = g.input('w', 'float32', ['B']);
  const lr = g.input('lr', 'float32', []);
  const step = g.input('step', 'float32', []);

  const { layerInputs, logits } = forward(g, x, layers);
  const { loss, perSampleLoss, grad: dLogits } = softmaxCrossEntropy(g, logits, y, w, cfg.numClasses);

  const grads: string[] = [];
  let dy = dLogits;
  for (let i = layers.length - 1; i >= 0; i--) {
    const input = layerInputs[i]!;
    const d = linearBackward(g, input, layers[i]!, dy, i > 0);
    grads[2 * i] = d.weight;
    grads[2 * i + 1] = d.bias;
    if (d.input) dy = reluBackward(g, input, d.input);
  }

  appendOptimizer(g, opt, lr, step, specs.map((spec, i) => ({ spec, value: spec.name, grad: grads[i]! })));
  g.output('loss', loss, 'float32', []);
  g.output('per_sample_loss', perSampleLoss, 'float32', ['B']);
  if (debug.emitGradients) specs.forEach((s, i) => g.output(`${s.name}__grad`, grads[i]!, 'float32', s.shape));
  return g.toBytes();
}
