// ONNX's protobuf messages, decoded and encoded by protobufjs (light: the schema is a JSON descriptor,
// src/onnx/schema.ts, so nothing parses a .proto at run time), as plain objects with int64s as numbers.
import protobuf from "protobufjs/light.js";
import { ONNX_SCHEMA } from "./schema.js";

export interface TensorProto {
  name?: string;
  dims?: number[];
  dataType?: number;
  rawData?: Uint8Array;
  floatData?: number[];
  doubleData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  uint64Data?: number[];
  dataLocation?: number;
  externalData?: { key?: string; value?: string }[];
  docString?: string;
}

export interface AttributeProto {
  name?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: unknown;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  refAttrName?: string;
}

export interface NodeProto {
  input?: string[];
  output?: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute?: AttributeProto[];
}

export interface ValueInfoProto {
  name?: string;
  type?: {
    tensorType?: { elemType?: number; shape?: { dim?: { dimValue?: number; dimParam?: string }[] } };
  };
}

export interface GraphProto {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
}

export interface ModelProto {
  irVersion?: number;
  opsetImport?: { domain?: string; version?: number }[];
  producerName?: string;
  producerVersion?: string;
  graph?: GraphProto;
  docString?: string;
}

let model: protobuf.Type | undefined;
const modelType = () => (model ??= protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType("onnx.ModelProto"));

/** The ModelProto in `bytes` as a plain object (protobufjs's errors for malformed bytes pass through). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const T = modelType();
  return T.toObject(T.decode(bytes), { longs: Number, enums: Number, bytes: Uint8Array }) as ModelProto;
}

/** A ModelProto's bytes (a Uint8Array of its own: protobufjs hands out slices of a shared pool in Node). */
export function encodeModel(m: ModelProto): Uint8Array {
  const T = modelType();
  return Uint8Array.from(T.encode(T.fromObject(m)).finish());
}

/** TensorProto.DataType's values that loadOnnx reads. */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const;
