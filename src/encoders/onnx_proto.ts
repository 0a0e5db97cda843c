/**
 * The subset of `onnx.proto` (ONNX IR version 8) that this project writes and reads, as a
 * protobufjs reflection descriptor: ModelProto, GraphProto, NodeProto, AttributeProto,
 * TensorProto, ValueInfoProto and the type/shape messages. Field numbers are those of
 * onnx/onnx.proto; fields we never use are left out (protobuf skips unknown fields on decode).
 *
 * @module
 */

import protobuf from "protobufjs";

/**
 * ONNX TensorProto.DataType values used here.
 * @example
 * ```ts
 * const tensor = { dims: [2], dataType: DataType.FLOAT, rawData: new Uint8Array(8) };
 * ```
 */
export const DataType = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;

/**
 * ONNX AttributeProto.AttributeType values used here.
 * @example
 * ```ts
 * const attr = { name: "axis", type: AttributeType.INT, i: -1 };
 * ```
 */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  FLOATS: 6,
  INTS: 7,
} as const;

const descriptor = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: "int64", id: 1 },
            opsetImport: { rule: "repeated", type: "OperatorSetIdProto", id: 8 },
            producerName: { type: "string", id: 2 },
            producerVersion: { type: "string", id: 3 },
            domain: { type: "string", id: 4 },
            modelVersion: { type: "int64", id: 5 },
            docString: { type: "string", id: 6 },
            graph: { type: "GraphProto", id: 7 },
            metadataProps: { rule: "repeated", type: "StringStringEntryProto", id: 14 },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: "string", id: 1 }, version: { type: "int64", id: 2 } },
        },
        StringStringEntryProto: {
          fields: { key: { type: "string", id: 1 }, value: { type: "string", id: 2 } },
        },
        GraphProto: {
          fields: {
            node: { rule: "repeated", type: "NodeProto", id: 1 },
            name: { type: "string", id: 2 },
            initializer: { rule: "repeated", type: "TensorProto", id: 5 },
            docString: { type: "string", id: 10 },
            input: { rule: "repeated", type: "ValueInfoProto", id: 11 },
            output: { rule: "repeated", type: "ValueInfoProto", id: 12 },
            valueInfo: { rule: "repeated", type: "ValueInfoProto", id: 13 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: "repeated", type: "string", id: 1 },
            output: { rule: "repeated", type: "string", id: 2 },
            name: { type: "string", id: 3 },
            opType: { type: "string", id: 4 },
            domain: { type: "string", id: 7 },
            attribute: { rule: "repeated", type: "AttributeProto", id: 5 },
            docString: { type: "string", id: 6 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: "string", id: 1 },
            type: { type: "int32", id: 20 },
            f: { type: "float", id: 2 },
            i: { type: "int64", id: 3 },
            s: { type: "bytes", id: 4 },
            t: { type: "TensorProto", id: 5 },
            floats: { rule: "repeated", type: "float", id: 7 },
            ints: { rule: "repeated", type: "int64", id: 8 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: "repeated", type: "int64", id: 1 },
            dataType: { type: "int32", id: 2 },
            floatData: { rule: "repeated", type: "float", id: 4, options: { packed: true } },
            int32Data: { rule: "repeated", type: "int32", id: 5, options: { packed: true } },
            int64Data: { rule: "repeated", type: "int64", id: 7, options: { packed: true } },
            name: { type: "string", id: 8 },
            rawData: { type: "bytes", id: 9 },
            docString: { type: "string", id: 12 },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: "string", id: 1 },
            type: { type: "TypeProto", id: 2 },
            docString: { type: "string", id: 3 },
          },
        },
        TypeProto: {
          fields: { tensorType: { type: "Tensor", id: 1 } },
          nested: {
            Tensor: {
              fields: {
                elemType: { type: "int32", id: 1 },
                shape: { type: "TensorShapeProto", id: 2 },
              },
            },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: "repeated", type: "Dimension", id: 1 } },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ["dimValue", "dimParam"] } },
              fields: { dimValue: { type: "int64", id: 1 }, dimParam: { type: "string", id: 2 } },
            },
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);

/**
 * The protobufjs type of `onnx.ModelProto`: `encode(message).finish()` gives the bytes of a
 * `.onnx` file, `decode(bytes)` reads one back.
 * @example
 * ```ts
 * import { ModelProto } from "./onnx_proto.ts";
 * const bytes = ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: "", version: 17 }] })
 *   .finish();
 * const back = ModelProto.decode(bytes);
 * ```
 */
export const ModelProto: protobuf.Type = root.lookupType("onnx.ModelProto");
