/**
 * Multi-step train graph: K optimizer steps per session run, as an ONNX Scan over K stacked batches.
 * onnxruntime copies every input and output on each run, and the trainer's worker pays a message round trip
 * per run; for tiny models (a step of 0.1–0.4 ms) that overhead is as large as the step, so batching K steps
 * into one run amortizes it.
 *
 * The Scan body is the single-step graph of `trainStepGraph` itself (not a re-derivation): its names are
 * prefixed with `step/` (subgraph names may not shadow outer ones), its per-step inputs are the Scan's slices of
 * the stacked outer inputs, and its parameters, buffers and optimizer state are the Scan's carried state. Scan
 * (rather than a Loop that Gathers slice j) hands the body each slice in place, without copying the batch, and
 * takes K from the stacked inputs, so one session runs any number of steps.
 */
import { GraphAttr, GraphBuilder } from '../graph.js';
import { DataType, type Dim, type GraphProto, type ValueInfoProto } from '../proto.js';
import { learningRateInputs, type OptimizerConfig } from '../optimizers.js';
import { trainStepGraph, type TrainStepOptions } from './build.js';
import type { ModelDefinition } from './model.js';

const PREFIX = 'step/';
/** The stacked inputs' leading dim: the number of steps of a run. */
const STEPS_DIM = 'K';

/** Inputs of the single-step graph that take one value per step; they are stacked along a leading K dim. */
export function perStepInputs(def: ModelDefinition, opt: OptimizerConfig): string[] {
  return [...def.inputs.map((i) => i.name), 'y', 'w', ...learningRateInputs(opt), 'step', 'rng_seed'];
}

/**
 * Train graph taking K ≥ 1 optimizer steps per run, K being the leading dim of its stacked inputs. Inputs: those
 * of `buildTrainStep(def, opt)`, except that each model input, `y` and `w` are stacked [K, B, ...] and `lr`,
 * `lr__<i>`, `step`, `rng_seed` are [K] vectors (step j of the run uses slice j). Outputs: `<param>__new`,
 * `<buffer>__new`, `<state>__new` after the K-th step, and every other single-step output stacked per step:
 * `loss` [K], `per_sample_loss` [K, B], `per_sample_grad_norm` [K, B] and, when the optimizer clips, `grad_norm` [K].
 */
export function buildMultiStepTrainStep(def: ModelDefinition, opt: OptimizerConfig, options: Pick<TrainStepOptions, 'nchwcBlock' | 'intraOpThreads'> = {}): Uint8Array {
  const single = trainStepGraph(def, opt, options).toGraph();
  const perStep = new Set(perStepInputs(def, opt));
  const stacked = single.input.filter((i) => perStep.has(i.name));
  const carried = single.input.filter((i) => !perStep.has(i.name));
  const outputs = new Map(single.output.map((o) => [o.name, o]));
  for (const c of carried) {
    if (!outputs.has(`${c.name}__new`)) throw new Error(`${def.architecture}: train-step input ${c.name} has no ${c.name}__new output to carry`);
  }
  const carriedOut = new Set(carried.map((c) => `${c.name}__new`));
  const scanned = single.output.filter((o) => !carriedOut.has(o.name));

  const g = new GraphBuilder(`${def.architecture}_train_steps`);
  for (const i of single.input) g.input(i.name, elemType(i), perStep.has(i.name) ? [STEPS_DIM, ...shapeOf(i)] : shapeOf(i));
  const body = scanBody(single, stacked, carried, scanned);
  const outs = g.opN('Scan', [...carried.map((c) => c.name), ...stacked.map((s) => s.name)], carried.length + scanned.length, {
    body: new GraphAttr(body), num_scan_inputs: stacked.length,
  });
  carried.forEach((c, j) => g.output(`${c.name}__new`, outs[j]!, elemType(c), shapeOf(c)));
  scanned.forEach((o, j) => g.output(o.name, outs[carried.length + j]!, elemType(o), [STEPS_DIM, ...shapeOf(o)]));
  return g.toBytes();
}

/** Body(...carried, ...one slice of each stacked input) → (...carried__new, ...per-step outputs), every name prefixed. */
function scanBody(single: GraphProto, stacked: ValueInfoProto[], carried: ValueInfoProto[], scanned: ValueInfoProto[]): GraphProto {
  const p = (name: string): string => (name === '' ? name : PREFIX + name);
  const rename = (v: ValueInfoProto): ValueInfoProto => ({ ...v, name: p(v.name) });
  return {
    name: `${single.name}_body`,
    node: single.node.map((n) => ({ ...n, name: p(n.name), input: n.input.map(p), output: n.output.map(p) })),
    initializer: single.initializer.map((t) => ({ ...t, name: p(t.name!) })),
    input: [...carried, ...stacked].map(rename),
    output: [...carried.map((c) => rename(single.output.find((o) => o.name === `${c.name}__new`)!)), ...scanned.map(rename)],
  };
}

const ELEM_NAMES: Record<number, 'float32' | 'int32' | 'int64' | 'bool' | 'float64'> = {
  [DataType.float32]: 'float32', [DataType.int32]: 'int32', [DataType.int64]: 'int64', [DataType.bool]: 'bool', [DataType.float64]: 'float64',
};

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
