/**
 * Multi-step train graph: K optimizer steps per session run, as an ONNX Loop over K stacked batches.
 * onnxruntime copies every input and output on each run, and the trainer's worker pays a message round trip
 * per run; for tiny models (a step of 0.1–0.4 ms) that overhead is as large as the step, so batching K steps
 * into one run amortizes it.
 *
 * The Loop body is the single-step graph of `trainStepGraph` itself (not a re-derivation): its names are
 * prefixed with `step/` (subgraph names may not shadow outer ones), its per-step inputs become Gathers of the
 * stacked outer inputs at the iteration number, and its parameters, buffers and optimizer state are carried.
 */
import { GraphAttr, GraphBuilder } from '../graph.js';
import { AttributeType, DataType, type Dim, type GraphProto, type NodeProto, type ValueInfoProto } from '../proto.js';
import { learningRateInputs, type OptimizerConfig } from '../optimizers.js';
import { trainStepGraph } from './build.js';
import type { ModelDefinition } from './model.js';

const PREFIX = 'step/';
const ITER = `${PREFIX}iter`;
const COND_IN = `${PREFIX}cond_in`;
const COND_OUT = `${PREFIX}cond_out`;

/** Inputs of the single-step graph that take one value per step; they are stacked along a leading K dim. */
export function perStepInputs(def: ModelDefinition, opt: OptimizerConfig): string[] {
  return [...def.inputs.map((i) => i.name), 'y', 'w', ...learningRateInputs(opt), 'step', 'rng_seed'];
}

/**
 * Train graph taking `k` optimizer steps per run. Inputs: those of `buildTrainStep(def, opt)`, except that
 * each model input, `y` and `w` are stacked [K, B, ...] and `lr`, `lr__<i>`, `step`, `rng_seed` are [K]
 * vectors (step j of the run uses slice j). Outputs: `<param>__new`, `<buffer>__new`, `<state>__new` after
 * the K-th step, and every other single-step output stacked per step: `loss` [K], `per_sample_loss` [K, B],
 * `per_sample_grad_norm` [K, B] and, when the optimizer clips, `grad_norm` [K].
 */
export function buildMultiStepTrainStep(def: ModelDefinition, opt: OptimizerConfig, k: number): Uint8Array {
  if (!Number.isInteger(k) || k < 1) throw new Error(`buildMultiStepTrainStep: k ${k} must be a positive integer`);
  const single = trainStepGraph(def, opt).toGraph();
  const stacked = new Set(perStepInputs(def, opt).filter((n) => single.input.some((i) => i.name === n)));
  const carried = single.input.filter((i) => !stacked.has(i.name));
  const outputs = new Map(single.output.map((o) => [o.name, o]));
  for (const c of carried) {
    if (!outputs.has(`${c.name}__new`)) throw new Error(`${def.architecture}: train-step input ${c.name} has no ${c.name}__new output to carry`);
  }
  const carriedOut = new Set(carried.map((c) => `${c.name}__new`));
  const scanned = single.output.filter((o) => !carriedOut.has(o.name));

  const g = new GraphBuilder(`${def.architecture}_train_${k}_steps`);
  for (const i of single.input) g.input(i.name, elemType(i), stacked.has(i.name) ? [k, ...shapeOf(i)] : shapeOf(i));
  const trips = g.const('int64', [], [k]);
  const always = g.const('bool', [], [1]);
  const body = loopBody(single, stacked, carried, scanned);
  const outs = g.opN('Loop', [trips, always, ...carried.map((c) => c.name)], carried.length + scanned.length, { body: new GraphAttr(body) });
  carried.forEach((c, j) => g.output(`${c.name}__new`, outs[j]!, elemType(c), shapeOf(c)));
  scanned.forEach((o, j) => g.output(o.name, outs[carried.length + j]!, elemType(o), [k, ...shapeOf(o)]));
  return g.toBytes();
}

/** Body(iter, cond, ...carried) → (cond, ...carried__new, ...per-step outputs), with every name prefixed. */
function loopBody(single: GraphProto, stacked: Set<string>, carried: ValueInfoProto[], scanned: ValueInfoProto[]): GraphProto {
  const p = (name: string): string => (name === '' ? name : PREFIX + name);
  const gathers: NodeProto[] = [...stacked].map((name) => ({
    name: `${PREFIX}gather_${name}`, op_type: 'Gather', input: [name, ITER], output: [p(name)],
    attribute: [{ name: 'axis', type: AttributeType.INT, i: 0 }],
  }));
  const cond: NodeProto = { name: `${PREFIX}cond`, op_type: 'Identity', input: [COND_IN], output: [COND_OUT], attribute: [] };
  const nodes = single.node.map((n) => ({ ...n, name: p(n.name), input: n.input.map(p), output: n.output.map(p) }));
  const scalarInfo = (name: string, elem: number): ValueInfoProto => ({ name, type: { tensor_type: { elem_type: elem, shape: { dim: [] } } } });
  const rename = (v: ValueInfoProto): ValueInfoProto => ({ ...v, name: p(v.name) });
  return {
    name: `${single.name}_body`,
    node: [cond, ...gathers, ...nodes],
    initializer: single.initializer.map((t) => ({ ...t, name: p(t.name!) })),
    input: [scalarInfo(ITER, DataType.int64), scalarInfo(COND_IN, DataType.bool), ...carried.map(rename)],
    output: [scalarInfo(COND_OUT, DataType.bool), ...carried.map((c) => rename(single.output.find((o) => o.name === `${c.name}__new`)!)), ...scanned.map(rename)],
  };
}

const ELEM_NAMES: Record<number, 'float32' | 'int32' | 'int64' | 'bool' | 'float64'> = { 1: 'float32', 6: 'int32', 7: 'int64', 9: 'bool', 11: 'float64' };

function elemType(v: ValueInfoProto): 'float32' | 'int32' | 'int64' | 'bool' | 'float64' {
  const t = ELEM_NAMES[v.type.tensor_type.elem_type];
  if (!t) throw new Error(`value ${v.name}: unsupported element type ${v.type.tensor_type.elem_type}`);
  return t;
}

function shapeOf(v: ValueInfoProto): Dim[] {
  const shape = v.type.tensor_type.shape;
  if (!shape) throw new Error(`value ${v.name} has no declared shape`);
  return shape.dim.map((d) => ('dim_value' in d ? d.dim_value : d.dim_param));
}
