/**
 * The subset of onnx.proto that Tideline emits, parsed at load time with protobufjs.
 * Field numbers are those of onnx/onnx.proto; only what ORT needs to load a model is declared.
 */
import protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto3";
package onnx;
message ModelProto { int64 ir_version = 1; string producer_name = 2; GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8; }
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message GraphProto {
  repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12;
}
message NodeProto {
  repeated string input = 1; repeated string output = 2; string name = 3; string op_type = 4;
  repeated AttributeProto attribute = 5; string domain = 7;
}
message AttributeProto {
  string name = 1; float f = 2; int64 i = 3; bytes s = 4; TensorProto t = 5; GraphProto g = 6;
  repeated float floats = 7; repeated int64 ints = 8; int32 type = 20;
}
message TensorProto { repeated int64 dims = 1; int32 data_type = 2; string name = 8; bytes raw_data = 9; }
message ValueInfoProto { string name = 1; TypeProto type = 2; }
message TypeProto { message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; } oneof value { Tensor tensor_type = 1; } }
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } }
  repeated Dimension dim = 1;
}
`;

/** onnx.AttributeProto.AttributeType values used here. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;

/** onnx.TensorProto.DataType values of the element types Tideline uses. */
export const DataType = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 } as const;
export type ElemType = keyof typeof DataType;

export interface TensorProto { name?: string; dims: number[]; data_type: number; raw_data: Uint8Array }
export interface AttributeProto {
  name: string; type: number;
  f?: number; i?: number; s?: Uint8Array; t?: TensorProto; g?: GraphProto; floats?: number[]; ints?: number[];
}
export interface NodeProto { name: string; op_type: string; input: string[]; output: string[]; attribute: AttributeProto[]; domain?: string }
export type Dim = number | string;
export interface ValueInfoProto {
  name: string;
  type: { tensor_type: { elem_type: number; shape?: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
}
export interface GraphProto {
  name: string; node: NodeProto[]; initializer: TensorProto[]; input: ValueInfoProto[]; output: ValueInfoProto[];
}
export interface ModelProto {
  ir_version: number; producer_name: string; opset_import: { domain: string; version: number }[]; graph: GraphProto;
}

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;
const Model = root.lookupType('onnx.ModelProto');

export function encodeModel(model: ModelProto): Uint8Array {
  const err = Model.verify(model);
  if (err) throw new Error(`invalid ONNX model: ${err}`);
  return Model.encode(Model.fromObject(model)).finish();
}

/**
 * Parses serialized model bytes (e.g. a user-supplied .onnx file) into the subset above; fields outside the
 * subset are skipped. int64s come back as JS numbers; repeated fields are always arrays.
 */
export function decodeModel(bytes: Uint8Array): ModelProto {
  let msg: protobuf.Message;
  try {
    msg = Model.decode(bytes);
  } catch (e) {
    throw new Error(`not an ONNX model: ${(e as Error).message}`);
  }
  return Model.toObject(msg, { longs: Number, arrays: true, defaults: false }) as ModelProto;
}
