/**
 * safetensors read and write (the format PyTorch users load with `safetensors.torch.load_file`):
 * an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
 * byte range, then the raw little-endian data. Written atomically (temporary file + rename).
 *
 * Written by hand rather than with an npm package: the format is a few dozen lines, and the
 * packages on npm either target browsers' fetch or pull in heavy dependencies.
 *
 * @module
 */

import { writeFileAtomic } from "../util/atomic_write.ts";

/** safetensors element types. */
export type Dtype =
  | "F32"
  | "F16"
  | "BF16"
  | "F64"
  | "I64"
  | "I32"
  | "U32"
  | "I16"
  | "I8"
  | "U8"
  | "BOOL";

/** A tensor: dtype, shape and its data. */
export interface Tensor {
  /** Element type. */
  dtype: Dtype;
  /** Shape (row-major). */
  shape: number[];
  /** Raw little-endian bytes. */
  data: Uint8Array;
}

/** A safetensors file's contents. */
export interface SafetensorsFile {
  /** Tensors by name. */
  tensors: Map<string, Tensor>;
  /** `__metadata__` (string values). */
  metadata: Record<string, string>;
}

const BYTES: Record<Dtype, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/**
 * A tensor from a typed array.
 * @example
 * ```ts
 * const t = tensor(new Float32Array(6), [2, 3]);
 * ```
 */
export function tensor(
  array: Float32Array | Int32Array | Uint32Array | Uint8Array,
  shape: number[],
): Tensor {
  const dtype: Dtype = array instanceof Float32Array
    ? "F32"
    : array instanceof Int32Array
    ? "I32"
    : array instanceof Uint32Array
    ? "U32"
    : "U8";
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== array.length) {
    throw new RangeError(
      `tensor shape [${shape}] holds ${count} elements, data has ${array.length}`,
    );
  }
  return { dtype, shape, data: new Uint8Array(array.buffer, array.byteOffset, array.byteLength) };
}

/**
 * Serializes tensors and metadata to safetensors bytes.
 * @example
 * ```ts
 * const bytes = encodeSafetensors(new Map([["x", tensor(new Float32Array(2), [2])]]), { a: "1" });
 * ```
 */
export function encodeSafetensors(
  tensors: Map<string, Tensor>,
  metadata: Record<string, string> = {},
): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + t.data.length],
    };
    offset += t.data.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of tensors.values()) {
    out.set(t.data, at);
    at += t.data.length;
  }
  return out;
}

/**
 * Parses safetensors bytes; `source` names the file in errors.
 * @example
 * ```ts
 * const bytes = encodeSafetensors(new Map([["x", tensor(new Float32Array(2), [2])]]));
 * const { tensors } = decodeSafetensors(bytes, "x.safetensors");
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  if (bytes.length < 8) throw new Error(`${source}: not a safetensors file (shorter than 8 bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > 100_000_000) {
    throw new Error(`${source}: not a safetensors file (header length ${headerLength})`);
  }
  if (headerLength > bytes.length - 8) {
    throw new Error(
      `${source}: file is cut off (truncated): its header needs ${headerLength} bytes after the ` +
        `8-byte length, the file has ${bytes.length} bytes in all`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw new Error(`${source}: safetensors header is not JSON (${(e as Error).message})`);
  }
  if (!isRecord(header)) throw new Error(`${source}: safetensors header is not a JSON object`);
  const dataStart = 8 + headerLength;
  const entries = Object.entries(header).filter(([name]) => name !== "__metadata__")
    .map(([name, entry]) => headerEntry(name, entry, source));
  const dataEnd = Math.max(0, ...entries.map((e) => e.end));
  if (dataStart + dataEnd > bytes.length) {
    const first = entries.find((e) => dataStart + e.end > bytes.length)!;
    throw new Error(
      `${source}: file is cut off (truncated): the header says the data runs to byte ` +
        `${dataStart + dataEnd}, the file has ${bytes.length} bytes (tensor "${first.name}" ` +
        `is incomplete)`,
    );
  }
  const tensors = new Map<string, Tensor>();
  for (const { name, dtype, shape, begin, end } of entries) {
    // Copy so the typed-array views below are aligned whatever the header length.
    tensors.set(name, { dtype, shape, data: bytes.slice(dataStart + begin, dataStart + end) });
  }
  return { tensors, metadata: headerMetadata(header.__metadata__, source) };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** One tensor's header entry, checked: known dtype, integer shape, offsets that fit the shape. */
function headerEntry(name: string, entry: unknown, source: string) {
  const where = `${source}: tensor "${name}"`;
  if (!isRecord(entry)) throw new Error(`${where}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== "string" || !(dtype in BYTES)) {
    throw new Error(`${where} has unsupported dtype ${JSON.stringify(dtype)}`);
  }
  const isCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new Error(
      `${where}: shape must be an array of integers >= 0, is ${JSON.stringify(shape)}`,
    );
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) ||
    offsets[0] > offsets[1]
  ) {
    throw new Error(`${where}: data_offsets must be [begin, end], is ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const expected = (shape as number[]).reduce((a, b) => a * b, 1) * BYTES[dtype as Dtype];
  if (end - begin !== expected) {
    throw new Error(
      `${where} [${shape}] ${dtype} needs ${expected} bytes, the header gives ${begin}..${end}`,
    );
  }
  return { name, dtype: dtype as Dtype, shape: shape as number[], begin, end };
}

/** `__metadata__`, checked: an object of strings (absent: empty). */
function headerMetadata(metadata: unknown, source: string): Record<string, string> {
  if (metadata === undefined) return {};
  if (!isRecord(metadata)) throw new Error(`${source}: __metadata__ is not a JSON object`);
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") {
      throw new Error(`${source}: __metadata__.${k} must be a string, is ${JSON.stringify(v)}`);
    }
  }
  return metadata as Record<string, string>;
}

/**
 * Reads a safetensors file.
 * @example
 * ```ts
 * const path = "tests/fixtures/biomedclip_tiny/io.safetensors";
 * const { tensors, metadata } = await readSafetensors(path);
 * [...tensors.keys()]; // the tensors' names
 * ```
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  return decodeSafetensors(bytes, path);
}

/**
 * Writes tensors and metadata as a safetensors file, atomically.
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const tensors = new Map([["w", tensor(new Float32Array(4), [2, 2])]]);
 * await writeSafetensors(`${dir}/w.safetensors`, tensors, { step: "1" });
 * (await readSafetensors(`${dir}/w.safetensors`)).metadata; // { step: "1" }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, Tensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * The tensor's data as float32 (F32 only); `source` names the file in errors.
 * @example
 * ```ts
 * const x = asF32(tensor(new Float32Array([1, 2]), [2]), "x", "f.safetensors");
 * ```
 */
export function asF32(t: Tensor, name: string, source: string): Float32Array<ArrayBuffer> {
  if (t.dtype !== "F32") throw new Error(`${source}: tensor "${name}" must be F32, is ${t.dtype}`);
  return new Float32Array(t.data.slice().buffer);
}

/**
 * The tensor's data as int32 (I32 only); `source` names the file in errors.
 * @example
 * ```ts
 * const y = asI32(tensor(new Int32Array([0, 1]), [2]), "label", "f.safetensors");
 * ```
 */
export function asI32(t: Tensor, name: string, source: string): Int32Array<ArrayBuffer> {
  if (t.dtype !== "I32") throw new Error(`${source}: tensor "${name}" must be I32, is ${t.dtype}`);
  return new Int32Array(t.data.slice().buffer);
}
