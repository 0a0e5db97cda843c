/**
 * Tensors as read from checkpoint files (PyTorch zip checkpoints, safetensors): dtype, shape and
 * a dense row-major typed array. Half-precision data stays as raw 16-bit words until
 * {@link toFloat32} widens it.
 *
 * @module
 */

/** Element types a checkpoint tensor may have. */
export type DType =
  | "float32"
  | "float16"
  | "bfloat16"
  | "float64"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** Typed array holding a tensor's elements (16-bit floats as raw `Uint16Array` words). */
export type TensorData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** A dense, row-major tensor. */
export interface Tensor {
  /** Element type. */
  dtype: DType;
  /** Dimensions ([] for a scalar). */
  shape: number[];
  /** `product(shape)` elements in row-major order. */
  data: TensorData;
}

/** Named tensors, in file order. */
export type StateDict = Map<string, Tensor>;

type ArrayCtor = { new (buffer: ArrayBuffer, offset: number, length: number): TensorData };

/**
 * Bytes per element and typed array constructor of each dtype.
 * @example
 * ```ts
 * DTYPES.float16.bytes; // 2
 * ```
 */
export const DTYPES: Record<DType, { bytes: number; array: ArrayCtor }> = {
  float32: { bytes: 4, array: Float32Array },
  float16: { bytes: 2, array: Uint16Array },
  bfloat16: { bytes: 2, array: Uint16Array },
  float64: { bytes: 8, array: Float64Array },
  int64: { bytes: 8, array: BigInt64Array },
  int32: { bytes: 4, array: Int32Array },
  int16: { bytes: 2, array: Int16Array },
  int8: { bytes: 1, array: Int8Array },
  uint8: { bytes: 1, array: Uint8Array },
  bool: { bytes: 1, array: Uint8Array },
};

/**
 * Number of elements of a shape.
 * @example
 * ```ts
 * numel([2, 3]); // 6
 * numel([]); // 1 (a scalar)
 * ```
 */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Copies `count` little-endian elements of `dtype` starting at byte `offset` of `bytes` into a
 * new, aligned typed array.
 * @example
 * ```ts
 * const a = typedFromBytes(new Uint8Array([0, 0, 128, 63]), 0, 1, "float32"); // [1]
 * ```
 */
export function typedFromBytes(
  bytes: Uint8Array,
  offset: number,
  count: number,
  dtype: DType,
): TensorData {
  const { bytes: size, array } = DTYPES[dtype];
  const copy = bytes.slice(offset, offset + count * size);
  return new array(copy.buffer, 0, count);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * The tensor's values as float32 (widening float16 / bfloat16, narrowing float64); a float32
 * tensor's own array is returned, not a copy. Integer tensors are refused.
 * @param name used in the error message
 * @example
 * ```ts
 * const t = { dtype: "float16" as const, shape: [1], data: new Uint16Array([0x3c00]) };
 * toFloat32(t, "x"); // Float32Array [1]
 * ```
 */
export function toFloat32(t: Tensor, name: string): Float32Array {
  const d = t.data;
  switch (t.dtype) {
    case "float32":
      return d as Float32Array;
    case "float64":
      return Float32Array.from(d as Float64Array);
    case "float16":
      return Float32Array.from(d as Uint16Array, halfToFloat);
    case "bfloat16": {
      const words = new Uint32Array(d.length);
      for (let i = 0; i < d.length; i++) words[i] = (d as Uint16Array)[i] << 16;
      return new Float32Array(words.buffer);
    }
    default:
      throw new Error(`tensor ${name}: dtype ${t.dtype} is not a floating-point type`);
  }
}
