/**
 * Reads a `.safetensors` file (8-byte little-endian header length, JSON header of
 * `{name: {dtype, shape, data_offsets}}`, then the raw little-endian data) into a state dict.
 *
 * @module
 */

import { type DType, DTYPES, numel, type StateDict, typedFromBytes } from "./state_dict.ts";

const SAFETENSORS_DTYPES: Record<string, DType> = {
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
  F64: "float64",
  I64: "int64",
  I32: "int32",
  I16: "int16",
  I8: "int8",
  U8: "uint8",
  BOOL: "bool",
};

/**
 * Parses a safetensors file's tensors (the `__metadata__` entry is skipped).
 * @param bytes the whole file
 * @param file the file's name, for error messages
 * @example
 * ```ts
 * const sd = readSafetensors(await Deno.readFile("model.safetensors"), "model.safetensors");
 * for (const [name, t] of sd) console.log(name, t.dtype, t.shape);
 * ```
 */
export function readSafetensors(bytes: Uint8Array, file: string): StateDict {
  if (bytes.length < 8) throw new Error(`${file}: too short for a safetensors header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (8 + headerLen > bytes.length) {
    throw new Error(`${file}: header length ${headerLen} runs past the end of the file`);
  }
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new Error(`${file}: header is not JSON: ${(e as Error).message}`);
  }
  const base = 8 + headerLen;
  const out: StateDict = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const dtype = SAFETENSORS_DTYPES[info.dtype];
    if (!dtype) throw new Error(`${file}: tensor ${name}: unsupported dtype ${info.dtype}`);
    const [begin, end] = info.data_offsets;
    const count = numel(info.shape);
    if (end - begin !== count * DTYPES[dtype].bytes || base + end > bytes.length) {
      throw new Error(
        `${file}: tensor ${name}: data_offsets [${begin}, ${end}] do not hold ` +
          `${info.dtype}[${info.shape}] inside the file`,
      );
    }
    out.set(name, {
      dtype,
      shape: info.shape,
      data: typedFromBytes(bytes, base + begin, count, dtype),
    });
  }
  return out;
}
