/**
 * Reading and replacing float32 initializers of a serialized model that Tideline did not write. Replacement
 * edits the protobuf wire format in place: only the replaced TensorProtos are re-encoded, every other byte of
 * the model (nodes, value_info, metadata, fields proto.ts does not declare) is kept exactly as it was.
 */
import protobuf from 'protobufjs';
import { DataType } from './proto.js';

const SCHEMA = `
syntax = "proto3";
message ModelProto { GraphProto graph = 7; }
message GraphProto { repeated TensorProto initializer = 5; }
message TensorProto {
  repeated int64 dims = 1; int32 data_type = 2; repeated float float_data = 4; string name = 8; bytes raw_data = 9;
  int32 data_location = 14;
}
`;
const root = protobuf.parse(SCHEMA, { keepCase: true }).root;
const Model = root.lookupType('ModelProto');
const Tensor = root.lookupType('TensorProto');

interface DecodedTensor { dims: number[]; data_type: number; float_data: number[]; name: string; raw_data: Uint8Array; data_location: number }

const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
/** TensorProto.DataLocation.EXTERNAL: the values live in another file. */
const EXTERNAL = 1;

export interface FloatInitializer {
  dims: number[];
  /** Undefined when the initializer is not float32 or its values are not inside the model. */
  values?: Float32Array;
  /** Why `values` is undefined. */
  unreadable?: string;
}

/** Every initializer of the model's main graph by name, with the values of the float32 ones. */
export function readInitializers(bytes: Uint8Array): Map<string, FloatInitializer> {
  const model = Model.toObject(Model.decode(bytes), { longs: Number, defaults: true }) as { graph?: { initializer: DecodedTensor[] } };
  const out = new Map<string, FloatInitializer>();
  for (const t of model.graph?.initializer ?? []) {
    const dims = t.dims.map(Number);
    const size = dims.reduce((a, b) => a * b, 1);
    const entry: FloatInitializer = { dims };
    if (t.data_type !== DataType.float32) entry.unreadable = `its element type is ${t.data_type}, not float`;
    else if (t.data_location === EXTERNAL) entry.unreadable = 'its values are in an external data file; save the model with its weights inside';
    else if (t.raw_data.length === 4 * size) entry.values = new Float32Array(t.raw_data.buffer.slice(t.raw_data.byteOffset, t.raw_data.byteOffset + 4 * size));
    else if (t.float_data.length === size) entry.values = Float32Array.from(t.float_data);
    else entry.unreadable = `it holds ${t.raw_data.length / 4 || t.float_data.length} values for shape [${dims.join(', ')}]`;
    out.set(t.name, entry);
  }
  return out;
}

/**
 * The model with each initializer named in `values` holding those float32 values instead (same dims). Throws
 * naming a value with no float32 initializer of that name, or of another size.
 */
export function replaceInitializers(bytes: Uint8Array, values: Record<string, Float32Array>): Uint8Array {
  const pending = new Set(Object.keys(values));
  const replaceTensor = (tensor: Uint8Array): Uint8Array => {
    const t = Tensor.toObject(Tensor.decode(tensor), { longs: Number, defaults: true }) as DecodedTensor;
    const value = values[t.name];
    if (!value) return tensor;
    const dims = t.dims.map(Number);
    const size = dims.reduce((a, b) => a * b, 1);
    if (t.data_type !== DataType.float32 || size !== value.length) {
      throw new Error(`initializer '${t.name}' [${dims.join(', ')}] cannot take ${value.length} float values`);
    }
    pending.delete(t.name);
    const raw = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return Tensor.encode({ dims, data_type: DataType.float32, name: t.name, raw_data: raw }).finish();
  };
  const out = editField(bytes, MODEL_GRAPH, (graph) => editField(graph, GRAPH_INITIALIZER, replaceTensor));
  if (pending.size) throw new Error(`no initializer named ${[...pending].map((n) => `'${n}'`).join(', ')}`);
  return out;
}

/** The message with every length-delimited field `field` replaced by `edit` of its bytes; all else copied. */
function editField(message: Uint8Array, field: number, edit: (value: Uint8Array) => Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const reader = protobuf.Reader.create(message);
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    const wireType = tag & 7;
    if (tag >>> 3 === field && wireType === 2) {
      const length = reader.uint32();
      const value = message.subarray(reader.pos, reader.pos + length);
      reader.pos += length;
      const edited = edit(value);
      parts.push(edited === value ? message.subarray(start, reader.pos) : protobuf.Writer.create().uint32(tag).bytes(edited).finish());
    } else {
      reader.skipType(wireType);
      parts.push(message.subarray(start, reader.pos));
    }
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
