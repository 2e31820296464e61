/**
 * The contract for user-supplied ONNX graphs: what a train-step graph and an inference graph must declare so
 * that Tideline's trainer can drive them exactly like the graphs it builds itself (lib/onnx/models/build.ts).
 * Only the graph's signature (its declared inputs, outputs and initializers) is checked, never its computation.
 *
 * Train-step graph (one optimizer step on one batch; every `__new` output is fed back as its input next step):
 *
 * Inputs (every non-initializer input must be one of these; an input that is also an initializer is optional):
 *  - every trainable parameter `P` (float32, static shape);
 *  - every optimizer-state tensor `optimizerStateNames(P, opt)` of every parameter, for the declared optimizer:
 *    `P__mom` for sgd, `P__m` and `P__v` for adam and adamw (float32, the parameter's shape; fed zeros at step 1);
 *  - optional buffers `Bf` (float32, e.g. batch-norm running statistics), each paired with output `Bf__new`;
 *  - the model inputs, with the names the user declares (e.g. `x`); the batch is dim 0;
 *  - `y` [B]: int64 for softmax-ce (class index), float32 for bce-logits and mse;
 *  - `w` [B] float32: per-sample weights;
 *  - `lr` float32 scalar, plus `lr__<i>` float32 scalar for each optimizer parameter group `i`
 *    (`learningRateInputs(opt)`); the scheduled rates are fed every step;
 *  - `step` float32 scalar: the 1-based index of the step being taken (Adam bias correction);
 *  - optional `rng_seed` float32 scalar: an integer below 2^24, a fresh one each step (dropout masks).
 *
 * Outputs (others are allowed and ignored):
 *  - `P__new` for every parameter, `<state>__new` for every optimizer-state tensor and `Bf__new` for every
 *    buffer: float32, the same shape as the input they replace;
 *  - `loss` float32 scalar: the weighted mean loss of the batch;
 *  - `per_sample_loss` [B] float32: unweighted loss of each sample;
 *  - optional `per_sample_grad_norm` [B] float32;
 *  - optional `grad_norm` float32 scalar (pre-clip global gradient norm, when the optimizer clips).
 *
 * Inference graph: the same model inputs and nothing else (weights are initializers, not inputs); outputs
 * `output` [B, C] float32 (logits, or the prediction for mse) and `embedding` [B, E] float32.
 *
 * Initial values: each parameter and buffer starts from the inference graph's float32 initializer of the same
 * name and shape (the weights an exporter writes into it; a train-step initializer of that name is not used),
 * and the stored model is the inference graph with the trained values in those initializers. Optimizer state
 * starts at zeros. A parameter or buffer without such an initializer is refused (lib/onnx/models/imported.ts).
 *
 * Where a graph declares a shape, its rank is checked (scalars rank 0, `y`/`w`/`per_sample_*` rank 1,
 * `output`/`embedding` rank 2) and `__new` outputs and optimizer states must match their parameter's dims;
 * an undeclared shape is accepted. Element types are always checked.
 */
import { learningRateInputs, optimizerStateNames, type OptimizerConfig } from '../optimizers.js';
import type { LossKind } from '../losses.js';
import { DataType, decodeModel, type ValueInfoProto } from '../proto.js';

/** A graph input or output as declared. `dims` is undefined when no shape is declared; a null dim is unknown. */
export interface TensorSignature {
  name: string;
  /** onnx.TensorProto.DataType code (1 float32, 7 int64, ...); 0 when the value is not a tensor. */
  elemType: number;
  dims?: (number | string | null)[];
}

export interface GraphSignature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
  /** Names of the graph's initializers (embedded weights and constants). */
  initializers: string[];
}

/** Thrown by the checks; `problems` lists each violation, the message joins them. */
export class ContractError extends Error {
  constructor(readonly graph: string, readonly problems: string[]) {
    super(`${graph}: ${problems.join('; ')}`);
    this.name = 'ContractError';
  }
}

const ONNX_TYPE_NAMES: Record<number, string> = {
  0: 'undefined', 1: 'float', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'double', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128', 16: 'bfloat16',
};

/** ONNX's name of an element type code, e.g. 1 → 'float', 7 → 'int64'. */
export function elemTypeName(code: number): string {
  return ONNX_TYPE_NAMES[code] ?? `type ${code}`;
}

function tensorSignature(v: ValueInfoProto): TensorSignature {
  const tt = v.type?.tensor_type;
  const sig: TensorSignature = { name: v.name, elemType: tt?.elem_type ?? 0 };
  if (tt?.shape) {
    sig.dims = (tt.shape.dim ?? []).map((d) => {
      if ('dim_value' in d && d.dim_value !== undefined && d.dim_value !== null) return Number(d.dim_value);
      if ('dim_param' in d && d.dim_param) return d.dim_param;
      return null;
    });
  }
  return sig;
}

/** Declared inputs, outputs and initializer names of a serialized ONNX model. */
export function readGraphSignature(bytes: Uint8Array): GraphSignature {
  const graph = decodeModel(bytes).graph;
  if (!graph) throw new ContractError('model', ['has no graph']);
  return {
    inputs: (graph.input ?? []).map(tensorSignature),
    outputs: (graph.output ?? []).map(tensorSignature),
    initializers: (graph.initializer ?? []).map((t) => t.name ?? ''),
  };
}

const OPTIMIZER_LABEL: Record<OptimizerConfig['name'], string> = { sgd: 'SGD momentum', adam: 'Adam', adamw: 'AdamW' };

/** Collects problems about one graph's signature. */
class Checker {
  readonly problems: string[] = [];
  readonly inputs: Map<string, TensorSignature>;
  readonly outputs: Map<string, TensorSignature>;
  readonly initializers: Set<string>;
  /** Inputs the contract accounts for. */
  readonly known = new Set<string>();

  constructor(sig: GraphSignature) {
    this.inputs = new Map(sig.inputs.map((s) => [s.name, s]));
    this.outputs = new Map(sig.outputs.map((s) => [s.name, s]));
    this.initializers = new Set(sig.initializers);
  }

  /** Checks a required (or optional) input or output; returns it when present. */
  value(
    kind: 'input' | 'output', name: string, opts: { type?: number; rank?: number; why?: string; optional?: boolean; needs?: string } = {},
  ): TensorSignature | undefined {
    if (kind === 'input') this.known.add(name);
    const v = (kind === 'input' ? this.inputs : this.outputs).get(name);
    if (!v) {
      if (!opts.optional) this.problems.push(`missing ${kind} '${name}'${opts.why ? ` (${opts.why})` : ''}`);
      return undefined;
    }
    if (opts.type !== undefined && v.elemType !== opts.type) {
      const by = opts.needs ? `${opts.needs} needs` : 'must be';
      this.problems.push(`${kind} '${name}' is ${elemTypeName(v.elemType)} but ${by} ${elemTypeName(opts.type)}`);
    }
    if (opts.rank !== undefined && v.dims && v.dims.length !== opts.rank) {
      this.problems.push(`${kind} '${name}' has rank ${v.dims.length} [${fmtDims(v.dims)}] but must have rank ${opts.rank}`);
    }
    return v;
  }

  /** `name__new` must have the same declared dims as `ref` where both are declared. */
  sameDims(kind: 'input' | 'output', v: TensorSignature | undefined, ref: TensorSignature | undefined, refLabel: string): void {
    if (!v?.dims || !ref?.dims) return;
    if (v.dims.length !== ref.dims.length || v.dims.some((d, i) => typeof d === 'number' && typeof ref.dims![i] === 'number' && d !== ref.dims![i])) {
      this.problems.push(`${kind} '${v.name}' has shape [${fmtDims(v.dims)}] but ${refLabel} has [${fmtDims(ref.dims)}]`);
    }
  }

  /** Non-initializer inputs that the contract does not account for (the trainer would not feed them). */
  unexpectedInputs(hint: (name: string) => string | undefined): void {
    for (const name of this.inputs.keys()) {
      if (this.known.has(name) || this.initializers.has(name)) continue;
      const why = hint(name);
      this.problems.push(`unexpected input '${name}'${why ? ` (${why})` : ''}`);
    }
  }

  throwIfAny(graph: string): void {
    if (this.problems.length) throw new ContractError(graph, this.problems);
  }
}

const fmtDims = (dims: (number | string | null)[]): string => dims.map((d) => d ?? '?').join(', ');

export interface TrainStepExpectation {
  params: string[];
  buffers?: string[];
  optimizer: OptimizerConfig;
  modelInputs: string[];
  loss: LossKind;
}

/** Throws a ContractError naming every missing, mistyped or unexpected input and output of a train-step graph. */
export function checkTrainStepGraph(bytes: Uint8Array, expect: TrainStepExpectation): GraphSignature {
  const sig = readGraphSignature(bytes);
  const c = new Checker(sig);
  const f32 = DataType.float32;
  const optLabel = OPTIMIZER_LABEL[expect.optimizer.name];

  for (const p of expect.params) {
    const pv = c.value('input', p, { type: f32, why: 'trainable parameter' });
    if (pv?.dims?.some((d) => typeof d !== 'number')) {
      c.problems.push(`input '${p}' has shape [${fmtDims(pv.dims)}] but a parameter's shape must be static`);
    }
    c.sameDims('output', c.value('output', `${p}__new`, { type: f32, why: `update of parameter '${p}'` }), pv, `parameter '${p}'`);
    for (const s of optimizerStateNames(p, expect.optimizer)) {
      c.sameDims('input', c.value('input', s, { type: f32, why: `${optLabel} state of parameter '${p}'` }), pv, `parameter '${p}'`);
      c.sameDims('output', c.value('output', `${s}__new`, { type: f32, why: `update of ${optLabel} state of parameter '${p}'` }), pv, `parameter '${p}'`);
    }
  }
  for (const b of expect.buffers ?? []) {
    const bv = c.value('input', b, { type: f32, why: 'buffer' });
    c.sameDims('output', c.value('output', `${b}__new`, { type: f32, why: `update of buffer '${b}'` }), bv, `buffer '${b}'`);
  }
  for (const m of expect.modelInputs) c.value('input', m, { why: 'model input' });

  const yType = expect.loss === 'softmax-ce' ? DataType.int64 : f32;
  c.value('input', 'y', { type: yType, rank: 1, why: 'targets [B]', needs: expect.loss });
  c.value('input', 'w', { type: f32, rank: 1, why: 'sample weights [B]' });
  for (const lr of learningRateInputs(expect.optimizer)) {
    c.value('input', lr, { type: f32, rank: 0, why: lr === 'lr' ? 'learning rate' : `learning rate of parameter group ${lr.slice(4)}` });
  }
  c.value('input', 'step', { type: f32, rank: 0, why: '1-based step index' });
  c.value('input', 'rng_seed', { type: f32, rank: 0, optional: true });

  c.value('output', 'loss', { type: f32, rank: 0, why: 'weighted mean loss' });
  c.value('output', 'per_sample_loss', { type: f32, rank: 1, why: 'per-sample loss [B]' });
  c.value('output', 'per_sample_grad_norm', { type: f32, rank: 1, optional: true });
  c.value('output', 'grad_norm', { type: f32, rank: 0, optional: true });

  const allStates = new Map<string, string>();
  for (const opt of ['sgd', 'adam'] as const) {
    for (const p of expect.params) {
      for (const s of optimizerStateNames(p, { ...expect.optimizer, name: opt } as OptimizerConfig)) allStates.set(s, p);
    }
  }
  c.unexpectedInputs((name) => {
    const p = allStates.get(name);
    if (p !== undefined) return `optimizer state of parameter '${p}' for another optimizer than ${expect.optimizer.name}`;
    if (c.outputs.has(`${name}__new`)) return `has an '${name}__new' output: list it in params or buffers`;
    if (/^lr__\d+$/.test(name)) return 'learning rate of a parameter group the optimizer does not declare';
    return 'the trainer would not feed it';
  });
  c.throwIfAny('train-step graph');
  return sig;
}

/** Throws a ContractError naming every missing, mistyped or unexpected input and output of an inference graph. */
export function checkInferenceGraph(bytes: Uint8Array, expect: { modelInputs: string[] }): GraphSignature {
  const sig = readGraphSignature(bytes);
  const c = new Checker(sig);
  for (const m of expect.modelInputs) c.value('input', m, { why: 'model input' });
  c.value('output', 'output', { type: DataType.float32, rank: 2, why: 'predictions [B, C]' });
  c.value('output', 'embedding', { type: DataType.float32, rank: 2, why: 'embeddings [B, E]' });
  c.unexpectedInputs(() => 'weights must be initializers; only model inputs are fed');
  c.throwIfAny('inference graph');
  return sig;
}

export interface InferredTensor { name: string; shape: number[] }

/**
 * Parameters (and buffers) of a train-step graph, in input order: the inputs with a matching `__new` output
 * that are not optimizer state. With `optimizer`, state is exactly `optimizerStateNames`; without, `X__mom`,
 * `X__m` and `X__v` are state when `X` is itself such an input. A paired input with optimizer state is a
 * parameter; one without is a buffer. Throws a ContractError when a shape is not static (it cannot be
 * initialised then).
 */
export function inferParameters(bytes: Uint8Array, optimizer?: OptimizerConfig): { params: InferredTensor[]; buffers: InferredTensor[] } {
  const sig = readGraphSignature(bytes);
  const outputs = new Set(sig.outputs.map((o) => o.name));
  const paired = sig.inputs.filter((i) => outputs.has(`${i.name}__new`));
  const pairedNames = new Set(paired.map((i) => i.name));
  const statesOf = (name: string): string[] => (optimizer
    ? optimizerStateNames(name, optimizer)
    : ['__mom', '__m', '__v'].map((s) => `${name}${s}`).filter((s) => pairedNames.has(s)));
  const stateNames = new Set(paired.flatMap((i) => statesOf(i.name)));
  const params: InferredTensor[] = [];
  const buffers: InferredTensor[] = [];
  const problems: string[] = [];
  for (const i of paired) {
    if (stateNames.has(i.name)) continue;
    if (!i.dims || i.dims.some((d) => typeof d !== 'number')) {
      problems.push(`input '${i.name}' has shape [${i.dims ? fmtDims(i.dims) : 'undeclared'}] but a parameter's shape must be static`);
      continue;
    }
    const t = { name: i.name, shape: i.dims as number[] };
    (statesOf(i.name).some((s) => pairedNames.has(s)) ? params : buffers).push(t);
  }
  if (problems.length) throw new ContractError('train-step graph', problems);
  return { params, buffers };
}
