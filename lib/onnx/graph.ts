/**
 * GraphBuilder: assembles an ONNX graph node by node and serializes it for onnxruntime.
 * Values are referred to by name (string); `op` returns the name of a fresh output.
 */
import {
  AttributeType, DataType, encodeModel,
  type AttributeProto, type Dim, type ElemType, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto,
} from './proto.js';

export const OPSET_VERSION = 18;
export const IR_VERSION = 8;
/** Versions of the operator domains beyond ONNX's own that graphs may use (ONNX Runtime's contrib kernels). */
const DOMAIN_VERSIONS: Record<string, number> = { 'com.microsoft': 1, 'com.microsoft.nchwc': 1 };

/** Float attributes must be marked: a bare `1` would be encoded as an INT attribute and rejected by ORT. */
export class FloatAttr { constructor(readonly value: number) {} }
export class FloatsAttr { constructor(readonly values: number[]) {} }
export const float = (value: number): FloatAttr => new FloatAttr(value);
export const floats = (values: number[]): FloatsAttr => new FloatsAttr(values);

/** A tensor-valued attribute, e.g. ConstantOfShape's `value`. */
export class TensorAttr { constructor(readonly tensor: TensorProto) {} }

/** A graph-valued attribute, e.g. the `body` of Loop or the branches of If. */
export class GraphAttr { constructor(readonly graph: GraphProto) {} }

export type AttrValue = number | string | number[] | FloatAttr | FloatsAttr | TensorAttr | GraphAttr;
export type Attrs = Record<string, AttrValue>;

export type TensorValues = ArrayLike<number> | BigInt64Array;

/** Consts up to this size are deduplicated by content; larger ones are weights and are never repeated. */
const DEDUP_MAX_BYTES = 4096;

export function tensorProto(type: ElemType, dims: number[], values: TensorValues, name?: string): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new Error(`tensor ${name ?? ''} has ${values.length} values for shape [${dims}]`);
  return { name, dims, data_type: DataType[type], raw_data: rawBytes(type, values) };
}

export function tensorAttr(type: ElemType, dims: number[], values: TensorValues): TensorAttr {
  return new TensorAttr(tensorProto(type, dims, values));
}

function rawBytes(type: ElemType, values: TensorValues): Uint8Array {
  let arr: ArrayBufferView;
  switch (type) {
    case 'float32': arr = values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>); break;
    case 'float64': arr = values instanceof Float64Array ? values : Float64Array.from(values as ArrayLike<number>); break;
    case 'int32': arr = values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>); break;
    case 'int64': arr = values instanceof BigInt64Array ? values : BigInt64Array.from(values as ArrayLike<number>, (v) => BigInt(v)); break;
    case 'bool': arr = Uint8Array.from(values as ArrayLike<number>, (v) => (v ? 1 : 0)); break;
  }
  // ONNX raw_data is little-endian, as is every platform Node targets here.
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

function attribute(name: string, v: AttrValue): AttributeProto {
  if (v instanceof FloatAttr) return { name, type: AttributeType.FLOAT, f: v.value };
  if (v instanceof FloatsAttr) return { name, type: AttributeType.FLOATS, floats: v.values };
  if (v instanceof TensorAttr) return { name, type: AttributeType.TENSOR, t: v.tensor };
  if (v instanceof GraphAttr) return { name, type: AttributeType.GRAPH, g: v.graph };
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) {
    if (!v.every(Number.isInteger)) throw new Error(`attribute ${name}: use floats() for non-integer lists`);
    return { name, type: AttributeType.INTS, ints: v };
  }
  if (!Number.isInteger(v)) throw new Error(`attribute ${name}=${v}: use float() for float attributes`);
  return { name, type: AttributeType.INT, i: v };
}

export function valueInfo(name: string, type: ElemType, shape?: Dim[]): ValueInfoProto {
  const tensor_type = {
    elem_type: DataType[type],
    shape: shape && { dim: shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
  };
  return { name, type: { tensor_type } };
}

/** The non-ONNX operator domains of a graph's nodes, subgraphs (Scan, Loop and If bodies) included. */
function usedDomains(graph: GraphProto, into = new Set<string>()): Set<string> {
  for (const node of graph.node) {
    if (node.domain) into.add(node.domain);
    for (const a of node.attribute) if (a.g) usedDomains(a.g, into);
  }
  return into;
}

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  /** Every value name defined so far, with what defines it. */
  private readonly defined = new Map<string, 'input' | 'initializer' | NodeProto>();
  private readonly constCache = new Map<string, string>();
  /** Values renamed by `output`; callers may still hold the old name. */
  private readonly aliases = new Map<string, string>();
  private counter = 0;

  constructor(readonly name = 'tideline') {}

  input(name: string, type: ElemType, shape: Dim[]): string {
    this.define(name, 'input');
    this.inputs.push(valueInfo(name, type, shape));
    return name;
  }

  /** A named initializer (e.g. a trained weight); not deduplicated. */
  initializer(name: string, type: ElemType, dims: number[], values: TensorValues): string {
    this.define(name, 'initializer');
    this.initializers.push(tensorProto(type, dims, values, name));
    return name;
  }

  /** An anonymous constant; identical small constants share one initializer. */
  const(type: ElemType, dims: number[], values: TensorValues): string {
    const t = tensorProto(type, dims, values);
    const key = t.raw_data.byteLength <= DEDUP_MAX_BYTES
      ? `${type}|${dims.join(',')}|${Buffer.from(t.raw_data).toString('base64')}` : undefined;
    const cached = key && this.constCache.get(key);
    if (cached) return cached;
    const name = this.fresh('const');
    this.define(name, 'initializer');
    this.initializers.push({ ...t, name });
    if (key) this.constCache.set(key, name);
    return name;
  }

  /** A node with one output; returns the output's name. */
  op(type: string, inputs: string[], attrs: Attrs = {}): string {
    return this.opN(type, inputs, 1, attrs)[0]!;
  }

  /** A one-output node of an operator domain other than ONNX's (one of DOMAIN_VERSIONS). */
  domainOp(domain: string, type: string, inputs: string[], attrs: Attrs = {}): string {
    if (!(domain in DOMAIN_VERSIONS)) throw new Error(`graph ${this.name}: unknown operator domain ${domain}`);
    return this.opN(type, inputs, 1, attrs, domain)[0]!;
  }

  /** A node with `count` outputs. */
  opN(type: string, inputs: string[], count: number, attrs: Attrs = {}, domain?: string): string[] {
    const id = this.fresh(type);
    const outs = Array.from({ length: count }, (_, i) => (count === 1 ? id : `${id}:${i}`));
    const node: NodeProto = {
      name: id,
      op_type: type,
      input: inputs.map((v) => (v === '' ? v : this.resolve(v))),
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      ...(domain ? { domain } : {}),
    };
    for (const o of outs) this.define(o, node);
    this.nodes.push(node);
    return outs;
  }

  /**
   * Declares `value` as graph output `name`. A node output is renamed in place (no Identity copy);
   * graph inputs, initializers and values that already are outputs go through an Identity.
   */
  output(name: string, value: string, type: ElemType, shape?: Dim[]): void {
    const src = this.resolve(value);
    const def = this.defined.get(src);
    const isOutput = this.outputs.some((o) => o.name === src);
    if (src !== name) {
      if (typeof def === 'object' && !isOutput && !this.defined.has(name)) this.rename(src, name, def);
      else {
        const node: NodeProto = { name: this.fresh('Identity'), op_type: 'Identity', input: [src], output: [name], attribute: [] };
        this.define(name, node);
        this.nodes.push(node);
      }
    }
    this.outputs.push(valueInfo(name, type, shape));
  }

  toBytes(): Uint8Array {
    const graph = this.toGraph();
    return encodeModel({
      ir_version: IR_VERSION,
      producer_name: 'tideline',
      opset_import: [{ domain: '', version: OPSET_VERSION }, ...[...usedDomains(graph)].map((domain) => ({ domain, version: DOMAIN_VERSIONS[domain]! }))],
      graph,
    });
  }

  /** The graph as a GraphProto (shares this builder's arrays), e.g. to embed as a Loop/If body via GraphAttr. */
  toGraph(): GraphProto {
    if (this.outputs.length === 0) throw new Error(`graph ${this.name} has no outputs`);
    return { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs };
  }

  private rename(from: string, to: string, producer: NodeProto): void {
    producer.output = producer.output.map((o) => (o === from ? to : o));
    for (const n of this.nodes) n.input = n.input.map((i) => (i === from ? to : i));
    this.defined.delete(from);
    this.defined.set(to, producer);
    this.aliases.set(from, to);
  }

  private resolve(value: string): string {
    let name = value;
    for (let a = this.aliases.get(name); a !== undefined; a = this.aliases.get(name)) name = a;
    if (!this.defined.has(name)) throw new Error(`graph ${this.name}: unknown value '${value}'`);
    return name;
  }

  private define(name: string, by: 'input' | 'initializer' | NodeProto): void {
    if (this.defined.has(name)) throw new Error(`graph ${this.name}: value '${name}' defined twice`);
    this.defined.set(name, by);
  }

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }
}
