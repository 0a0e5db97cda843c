/**
 * A `.safetensors` state dict (the format is read by `src/io/safetensors.ts`) as the importer's
 * typed tensors.
 *
 * @module
 */

import { decodeSafetensors, type Dtype } from "../io/safetensors.ts";
import { type DType, numel, type StateDict, typedFromBytes } from "./state_dict.ts";

const SAFETENSORS_DTYPES: Partial<Record<Dtype, DType>> = {
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
 * The tensors of a safetensors file as a state dict (the `__metadata__` entry is dropped).
 * @param bytes the whole file
 * @param file the file's name, for error messages
 * @example
 * ```ts
 * const path = "tests/fixtures/biomedclip_tiny/open_clip_tiny.safetensors";
 * const sd = safetensorsStateDict(await Deno.readFile(path), path);
 * sd.get("logit_scale"); // { dtype: "float32", shape: [], … }
 * ```
 */
export function safetensorsStateDict(bytes: Uint8Array, file: string): StateDict {
  const out: StateDict = new Map();
  for (const [name, t] of decodeSafetensors(bytes, file).tensors) {
    const dtype = SAFETENSORS_DTYPES[t.dtype];
    if (!dtype) throw new Error(`${file}: tensor ${name}: unsupported dtype ${t.dtype}`);
    out.set(name, {
      dtype,
      shape: t.shape,
      data: typedFromBytes(t.data, 0, numel(t.shape), dtype),
    });
  }
  return out;
}
