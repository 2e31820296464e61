/**
 * Derives a model's graphs from its forward pass: parameter lists, the servable inference graph and the
 * train step (forward, weighted loss, reverse pass on the tape, optimizer update). A model whose graphs are
 * supplied (a user's ONNX files) answers from them instead.
 */
import { Tape, type HostTable, type ParamMode } from '../autodiff/tape.js';
import { tableGradSquaredNorm } from '../layers/host-embedding.js';
import { GraphBuilder } from '../graph.js';
import { weightedLoss } from '../losses.js';
import { scalar } from '../ops.js';
import { appendOptimizer, type OptimizerConfig } from '../optimizers.js';
import type { ParamSpec } from '../params.js';
import type { ForwardResult, ModelDefinition } from './model.js';

export interface TrainStepOptions {
  /** Also output `<param>__grad` for every parameter (gradient checks). */
  emitGradients?: boolean;
  /** Convs as NCHWc kernels of this block size (Tape's `nchwcBlock`): for sessions on the CPU execution provider. */
  nchwcBlock?: number;
  /** The intra-op threads the session will run with (Tape's `intraOpThreads`; default 1). */
  intraOpThreads?: number;
}

function forward(def: ModelDefinition, t: Tape, inputs: Record<string, string>): ForwardResult {
  if (!def.forward) throw new Error(`${def.architecture}: a supplied graph has no forward pass to derive graphs from`);
  return def.forward(t, inputs);
}

function declareInputs(t: Tape, def: ModelDefinition): Record<string, string> {
  return Object.fromEntries(def.inputs.map((i) => [i.name, t.setShape(t.g.input(i.name, i.dtype, i.shape), i.shape)]));
}

/**
 * Trainable parameters and buffers, in declaration order (the order initialization draws random numbers in).
 * `params` includes the tables held outside the graph; `hostTables` says which they are.
 */
export function modelParameters(def: ModelDefinition): { params: ParamSpec[]; buffers: ParamSpec[]; hostTables: HostTable[] } {
  if (def.supplied) return { params: def.supplied.params, buffers: def.supplied.buffers, hostTables: [] };
  const t = new Tape(new GraphBuilder(def.architecture), { training: false, params: { kind: 'inputs' } });
  forward(def, t, declareInputs(t, def));
  return { params: t.params, buffers: t.buffers, hostTables: t.hostTables };
}

/** Graph output of the gradient of a host table's gathered rows. */
export const rowsGradOutput = (table: HostTable): string => `${table.rows}__grad`;

/**
 * Inference graph: inputs `def.inputs`; outputs `output` [B, outputSize] and `embedding` [B, embeddingSize].
 * With `weights` (params and buffers by name) they are embedded as initializers, giving a plain servable
 * model; without, every parameter and buffer is a graph input, host tables as their gathered rows as in the train
 * step (batch-then-sample's forward: the worker gathers them from the tables it holds), and `nchwcBlock` may ask for
 * NCHWc convs as in the train step (ORT applies them itself to embedded weights).
 */
export function buildInference(def: ModelDefinition, weights?: Record<string, Float32Array>, options: Pick<TrainStepOptions, 'nchwcBlock'> = {}): Uint8Array {
  if (weights && options.nchwcBlock !== undefined) throw new Error(`${def.architecture}: a graph with embedded weights stays plain ONNX (no nchwcBlock)`);
  if (def.supplied && weights) return def.supplied.inference(weights);
  const g = new GraphBuilder(`${def.architecture}_inference`);
  const params: ParamMode = weights ? { kind: 'weights', weights } : { kind: 'inputs' };
  const t = new Tape(g, { training: false, params, nchwcBlock: options.nchwcBlock });
  const { output, embedding, embeddingSize } = forward(def, t, declareInputs(t, def));
  g.output('output', output, 'float32', ['B', def.outputSize]);
  g.output('embedding', embedding, 'float32', ['B', embeddingSize]);
  return g.toBytes();
}

/**
 * Train-step graph. Inputs: every parameter, buffer and optimizer-state tensor (by name) except host tables and
 * their state, each host table's rows input, `def.inputs`,
 * `y` [B] (int64 for softmax-ce, else float32), `w` [B] sample weights, scalars `lr`, `step` (1-based step
 * being taken) and `rng_seed` (Dropout masks; an integer below 2^24). Outputs: `<param>__new`,
 * `<buffer>__new`, `<state>__new`, `<rows>__grad` per host table (clipped when the optimizer clips), `loss`,
 * `per_sample_loss` [B], `per_sample_grad_norm` [B].
 */
export function buildTrainStep(def: ModelDefinition, opt: OptimizerConfig, options: TrainStepOptions = {}): Uint8Array {
  if (def.supplied) return def.supplied.trainStep(opt);
  return trainStepGraph(def, opt, options).toBytes();
}

/** The train step of `buildTrainStep`, unserialized (e.g. to embed as a Loop body: see multi-step.ts). */
export function trainStepGraph(def: ModelDefinition, opt: OptimizerConfig, options: TrainStepOptions = {}): GraphBuilder {
  const g = new GraphBuilder(`${def.architecture}_train_step`);
  const t = new Tape(g, { training: true, params: { kind: 'inputs' }, nchwcBlock: options.nchwcBlock, intraOpThreads: options.intraOpThreads });
  const inputs = declareInputs(t, def);
  const y = g.input('y', def.loss === 'softmax-ce' ? 'int64' : 'float32', ['B']);
  const w = g.input('w', 'float32', ['B']);
  const lr = g.input('lr', 'float32', []);
  const step = g.input('step', 'float32', []);
  t.rngSeed(); // declared even without dropout: every train step takes the same inputs

  const { output } = forward(def, t, inputs);
  const { loss, perSampleLoss, perSampleGradNorm } = weightedLoss(t, def.loss, output, y, w, def.outputSize);
  const hostParams = new Set(t.hostTables.map((h) => h.param.name));
  const graphParams = t.params.filter((s) => !hostParams.has(s.name));
  const grads = t.gradients({ [loss]: scalar(g, 1) }, [...graphParams.map((s) => s.name), ...t.hostTables.map((h) => h.rows)]);
  const gradOf = (name: string, what: string): string => {
    const grad = grads.get(name);
    if (!grad) throw new Error(`${def.architecture}: ${what} ${name} does not affect the loss`);
    return grad;
  };
  const updates = graphParams.map((spec) => ({ spec, value: spec.name, grad: gradOf(spec.name, 'parameter') }));
  const hostRows = t.hostTables.map((h) => {
    const grad = gradOf(h.rows, 'host table rows');
    return { output: rowsGradOutput(h), grad, squaredNorm: () => tableGradSquaredNorm(g, h.ids, grad, h.param.shape[1]!), shape: t.shape(h.rows) };
  });
  appendOptimizer(g, opt, lr, step, updates, hostRows);
  for (const b of t.buffers) g.output(`${b.name}__new`, t.bufferUpdate(b.name) ?? b.name, 'float32', b.shape);
  g.output('loss', loss, 'float32', []);
  g.output('per_sample_loss', perSampleLoss, 'float32', ['B']);
  g.output('per_sample_grad_norm', perSampleGradNorm, 'float32', ['B']);
  // Host rows gradients are outputs already (rowsGradOutput).
  if (options.emitGradients) for (const u of updates) g.output(`${u.spec.name}__grad`, u.grad, 'float32', u.spec.shape);
  return g;
}
