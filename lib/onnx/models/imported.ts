/**
 * A user's own train-step and inference graphs as a ModelDefinition, so that the trainer, model state, store,
 * export and evaluation drive them exactly as they drive zoo models (build.ts answers from `supplied`).
 *
 * Beyond the signature contract (lib/onnx/contract), an imported pair must fit together:
 *  - parameters and buffers are the train step's inputs with a `__new` output that are not optimizer state
 *    (inferParameters), each with a static shape;
 *  - each one's initial value is the inference graph's float32 initializer of the same name and shape, which
 *    is also where the trained value is substituted when the model is stored;
 *  - the model inputs are the inference graph's other inputs (not initializers, not parameters), float32 or
 *    int64, with a symbolic batch dim first; the train step takes the same inputs with the same types. Whether
 *    a dataset's batches can feed them is the loader's check (lib/models/user-graphs.ts);
 *  - `output` is [B, C]: C is the class count for softmax-ce (declared there, or given as numClasses), 1 else.
 */
import { checkInferenceGraph, checkTrainStepGraph, ContractError, elemTypeName, inferParameters, readGraphSignature, type GraphSignature, type TensorSignature } from '../contract/contract.js';
import { readInitializers, replaceInitializers } from '../initializers.js';
import type { LossKind } from '../losses.js';
import type { OptimizerConfig } from '../optimizers.js';
import type { ParamSpec } from '../params.js';
import { DataType } from '../proto.js';
import type { ModelDefinition, ModelInput } from './model.js';

/** A serialized graph and how messages name it (e.g. the spec field and its path). */
export interface GraphFile {
  label: string;
  bytes: Uint8Array;
}

export interface ImportOptions {
  loss: LossKind;
  /** Classes for softmax-ce when the inference graph's output does not declare them. */
  numClasses?: number;
}

/** A graph pair that cannot be trained as one model; the message names the graph and the culprit. */
export class ImportError extends Error {
  constructor(label: string, problem: string) {
    super(`${label}: ${problem}`);
    this.name = 'ImportError';
  }
}

export function importModel(trainStep: GraphFile, inference: GraphFile, opts: ImportOptions): ModelDefinition {
  const inferred = withLabel(trainStep.label, () => inferParameters(trainStep.bytes));
  const weightNames = new Set([...inferred.params, ...inferred.buffers].map((p) => p.name));

  const infSig = readSignature(inference);
  const declared = infSig.inputs.filter((i) => !infSig.initializers.includes(i.name) && !weightNames.has(i.name));
  withLabel(inference.label, () => checkInferenceGraph(inference.bytes, { modelInputs: declared.map((i) => i.name) }));
  const inputs = declared.map((i) => modelInput(i, inference.label));
  checkSameInputs(declared, readSignature(trainStep), trainStep.label);

  const initializers = readInitializers(inference.bytes);
  const given = (t: { name: string; shape: number[] }, what: string): ParamSpec => {
    const init = initializers.get(t.name);
    const shape = `[${t.shape.join(', ')}]`;
    if (!init) throw new ImportError(inference.label, `${what} '${t.name}' ${shape} of the train step has no initializer (its initial value, and where the trained value goes)`);
    if (!init.values) throw new ImportError(inference.label, `initializer '${t.name}' is unusable: ${init.unreadable}`);
    if (init.dims.join() !== t.shape.join()) {
      throw new ImportError(inference.label, `initializer '${t.name}' has shape [${init.dims.join(', ')}] but the train step's ${what} has ${shape}`);
    }
    return { name: t.name, shape: t.shape, fanIn: t.shape.slice(1).reduce((a, b) => a * b, 1), init: 'given', value: init.values };
  };
  const params = inferred.params.map((p) => given(p, 'parameter'));
  const buffers = inferred.buffers.map((b) => given(b, 'buffer'));

  return {
    architecture: 'onnx',
    inputs,
    loss: opts.loss,
    outputSize: outputSize(infSig.outputs.find((o) => o.name === 'output')!, opts, inference.label),
    supplied: {
      params,
      buffers,
      trainStep(optimizer: OptimizerConfig) {
        withLabel(trainStep.label, () => checkTrainStepGraph(trainStep.bytes, {
          params: params.map((p) => p.name), buffers: buffers.map((b) => b.name), optimizer, modelInputs: inputs.map((i) => i.name), loss: opts.loss,
        }));
        return trainStep.bytes;
      },
      inference(weights: Record<string, Float32Array>) {
        try {
          return replaceInitializers(inference.bytes, weights);
        } catch (err) {
          throw new ImportError(inference.label, (err as Error).message);
        }
      },
    },
  };
}

/** Runs `fn`, giving a ContractError (or any other error of the graph's reading) the graph's label. */
function withLabel<T>(label: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ImportError) throw err;
    throw new ImportError(label, err instanceof ContractError ? err.message : `not a readable ONNX model (${(err as Error).message})`);
  }
}

function readSignature(graph: GraphFile): GraphSignature {
  return withLabel(graph.label, () => readGraphSignature(graph.bytes));
}

/** The ModelInput of a declared model input; its first dim, which must be symbolic, becomes 'B'. */
function modelInput(sig: TensorSignature, label: string): ModelInput {
  const dtype = sig.elemType === DataType.float32 ? 'float32' : sig.elemType === DataType.int64 ? 'int64' : undefined;
  if (!dtype) throw new ImportError(label, `input '${sig.name}' is ${elemTypeName(sig.elemType)}; batches feed float (from x) or int64 (categorical ids)`);
  if (!sig.dims?.length) throw new ImportError(label, `input '${sig.name}' declares no shape; batches feed [batch, ...dims]`);
  const [batch, ...rest] = sig.dims;
  if (typeof batch === 'number') throw new ImportError(label, `input '${sig.name}' has a fixed batch dim ${batch}; it must be symbolic (e.g. 'B')`);
  return { name: sig.name, dtype, shape: ['B', ...rest.map((d) => d ?? '?')] };
}

/** The train step's model inputs must have the inference graph's element types and declared dims. */
function checkSameInputs(declared: TensorSignature[], train: GraphSignature, label: string): void {
  for (const d of declared) {
    const t = train.inputs.find((i) => i.name === d.name);
    if (!t) continue; // the contract check names it
    if (t.elemType !== d.elemType) {
      throw new ImportError(label, `input '${d.name}' is ${elemTypeName(t.elemType)} but the inference graph's is ${elemTypeName(d.elemType)}`);
    }
    const fixed = (dims?: (number | string | null)[]) => dims?.slice(1).map((x) => (typeof x === 'number' ? x : '?')).join(', ');
    if (t.dims && d.dims && fixed(t.dims) !== fixed(d.dims)) {
      throw new ImportError(label, `input '${d.name}' is [B, ${fixed(t.dims)}] but the inference graph's is [B, ${fixed(d.dims)}]`);
    }
  }
}

/** Classes for softmax-ce (declared by `output` or given), 1 otherwise; a disagreement is refused. */
function outputSize(output: TensorSignature, opts: ImportOptions, label: string): number {
  const width = output.dims?.[1];
  const declared = typeof width === 'number' ? width : undefined;
  if (opts.loss !== 'softmax-ce') {
    if (declared !== undefined && declared !== 1) throw new ImportError(label, `output 'output' is [B, ${declared}] but ${opts.loss} needs one value per sample`);
    return 1;
  }
  if (declared !== undefined && opts.numClasses !== undefined && declared !== opts.numClasses) {
    throw new ImportError(label, `output 'output' is [B, ${declared}] but model.numClasses is ${opts.numClasses}`);
  }
  const classes = declared ?? opts.numClasses;
  if (classes === undefined) throw new ImportError(label, "output 'output' does not declare its class count; give model.numClasses");
  if (classes < 2) throw new ImportError(label, `output 'output' is [B, ${classes}] but softmax-ce needs at least 2 classes`);
  return classes;
}
