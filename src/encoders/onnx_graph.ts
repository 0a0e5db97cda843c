/**
 * A small ONNX graph builder: named inputs, outputs and initializers, nodes added by op type
 * with automatically unique value names, and serialization to `.onnx` bytes through the
 * protobufjs descriptor in `onnx_proto.ts`.
 *
 * @module
 */

import { AttributeType, DataType, ModelProto } from "./onnx_proto.ts";

/** A dimension: a fixed size, or a symbolic name such as `"batch"`. */
export type Dim = number | string;

/** An attribute value: int, float, ints, floats or string. */
export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

/** Element types the builder writes: ONNX FLOAT or INT64. */
export type ElemType = "float32" | "int64";

const ELEM: Record<ElemType, number> = { float32: DataType.FLOAT, int64: DataType.INT64 };

function valueInfo(name: string, elem: ElemType, dims: readonly Dim[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[elem],
        shape: {
          dim: dims.map((d) => typeof d === "number" ? { dimValue: d } : { dimParam: d }),
        },
      },
    },
  };
}

function attribute(name: string, v: AttrValue) {
  if (typeof v === "string") {
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  }
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: v };
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an int`);
    return { name, type: AttributeType.INT, i: v };
  }
  if ("float" in v) return { name, type: AttributeType.FLOAT, f: v.float };
  return { name, type: AttributeType.FLOATS, floats: v.floats };
}

function bytesOf(data: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Builds one ONNX graph. Values are referred to by name (strings); `op` returns the names of
 * the new node's outputs.
 * @example
 * ```ts
 * import { GraphBuilder } from "./onnx_graph.ts";
 * const g = new GraphBuilder("double");
 * const x = g.input("x", "float32", ["batch", 4]);
 * const two = g.constant("two", new Float32Array([2]), []);
 * g.output(g.op("Mul", [x, two]), "y", "float32", ["batch", 4]);
 * const onnxBytes = g.toModel({ opset: 17, producer: "example" });
 * ```
 */
export class GraphBuilder {
  readonly name: string;
  #nodes: Record<string, unknown>[] = [];
  #inits: Record<string, unknown>[] = [];
  #inputs: Record<string, unknown>[] = [];
  #outputs: Record<string, unknown>[] = [];
  #used = new Set<string>();
  #count = 0;

  /** @param name the graph's name */
  constructor(name: string) {
    this.name = name;
  }

  #claim(name: string): string {
    if (this.#used.has(name)) throw new Error(`graph ${this.name}: value name "${name}" reused`);
    this.#used.add(name);
    return name;
  }

  /** Declares a graph input; returns its name. */
  input(name: string, elem: ElemType, dims: readonly Dim[]): string {
    this.#inputs.push(valueInfo(this.#claim(name), elem, dims));
    return name;
  }

  /** Makes `value` a graph output named `name` (through an Identity node when renamed). */
  output(value: string, name: string, elem: ElemType, dims: readonly Dim[]): void {
    if (value !== name) {
      this.#nodes.push({
        opType: "Identity",
        name: `${name}_identity`,
        input: [value],
        output: [this.#claim(name)],
      });
    }
    this.#outputs.push(valueInfo(name, elem, dims));
  }

  /** Adds an initializer (a weight or constant) with the given dims; returns its name. */
  constant(name: string, data: Float32Array | BigInt64Array, dims: readonly number[]): string {
    const numel = dims.reduce((a, b) => a * b, 1);
    if (numel !== data.length) {
      throw new Error(
        `initializer ${name}: dims [${dims}] hold ${numel} values, got ${data.length}`,
      );
    }
    this.#inits.push({
      name: this.#claim(name),
      dims: [...dims],
      dataType: data instanceof Float32Array ? DataType.FLOAT : DataType.INT64,
      rawData: bytesOf(data),
    });
    return name;
  }

  /** An int64 constant (shapes, axes, indices); `[]` dims makes a scalar. */
  ints(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant(name, BigInt64Array.from(values, BigInt), dims);
  }

  /**
   * Adds a node; returns its single output name (or `outputs` names when `outputs > 1`).
   * @param opType ONNX operator, default domain
   * @param inputs input value names ("" for an omitted optional input)
   * @param attrs attributes by name
   * @param hint readable prefix for the generated output names
   */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, hint = opType) {
    return this.opN(opType, inputs, 1, attrs, hint)[0];
  }

  /** Like {@link op} for nodes with `outputs` outputs; returns all output names. */
  opN(
    opType: string,
    inputs: string[],
    outputs: number,
    attrs: Record<string, AttrValue> = {},
    hint = opType,
  ): string[] {
    for (const i of inputs) {
      if (i !== "" && !this.#used.has(i)) {
        throw new Error(`graph ${this.name}: ${opType} reads undefined value "${i}"`);
      }
    }
    const id = this.#count++;
    const outs = Array.from({ length: outputs }, (_, k) => this.#claim(`${hint}_${id}_${k}`));
    this.#nodes.push({
      opType,
      name: `${opType}_${id}`,
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /**
   * Serializes the graph as an ONNX model (IR version 8).
   * @param meta opset version of the default domain, producer name, and metadata properties
   */
  toModel(
    meta: { opset: number; producer: string; doc?: string; props?: Record<string, string> },
  ): Uint8Array {
    const message = ModelProto.fromObject({
      irVersion: 8,
      opsetImport: [{ domain: "", version: meta.opset }],
      producerName: meta.producer,
      docString: meta.doc ?? "",
      graph: {
        name: this.name,
        node: this.#nodes,
        initializer: this.#inits,
        input: this.#inputs,
        output: this.#outputs,
      },
      metadataProps: Object.entries(meta.props ?? {}).map(([key, value]) => ({ key, value })),
    });
    return ModelProto.encode(message).finish();
  }
}
