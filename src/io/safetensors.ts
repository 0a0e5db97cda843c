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
  array: Float32Array | Int32Array | Uint32Array,
  shape: number[],
): Tensor {
  const dtype: Dtype = array instanceof Float32Array
    ? "F32"
    : array instanceof Int32Array
    ? "I32"
    : "U32";
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
): Uint8Array {
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
  if (headerLength > bytes.length - 8 || headerLength > 100_000_000) {
    throw new Error(`${source}: not a safetensors file (header length ${headerLength})`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw new Error(`${source}: safetensors header is not JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = entry as {
      dtype: Dtype;
      shape: number[];
      data_offsets: [number, number];
    };
    if (!(dtype in BYTES)) {
      throw new Error(`${source}: tensor "${name}" has unsupported dtype ${dtype}`);
    }
    const [begin, end] = data_offsets;
    const expected = shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
    if (end - begin !== expected || dataStart + end > bytes.length) {
      throw new Error(
        `${source}: tensor "${name}" [${shape}] ${dtype} needs ${expected} bytes, ` +
          `header gives ${begin}..${end} of ${bytes.length - dataStart}`,
      );
    }
    // Copy so the typed-array views below are aligned whatever the header length.
    tensors.set(name, { dtype, shape, data: bytes.slice(dataStart + begin, dataStart + end) });
  }
  return { tensors, metadata };
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
 * Writes a file atomically: to a temporary name in the same directory, synced, then renamed, so
 * a reader (or a resumed run after a kill) sees the old file or the new one, never half of one.
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/params.json`, new TextEncoder().encode("{}"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${Deno.pid}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
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
