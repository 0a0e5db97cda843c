/**
 * The embeddings file every later step shares, in safetensors: tensors `image` F32 [N,D],
 * `text` F32 [N,D], `label` I32 [N] (0 normal, 1 abnormal), `split` I32 [N] (0 train,
 * 1 validation, 2 test), and `__metadata__.ids`, a JSON array of N strings. Other tensors and
 * metadata keys may be present and are kept, never required.
 *
 * @module
 */

import { asF32, asI32, readSafetensors, tensor, writeSafetensors } from "./safetensors.ts";

/** Split codes of the `split` tensor. */
export const SPLIT_CODES = { train: 0, validation: 1, test: 2 } as const;

/** A split name. */
export type SplitName = keyof typeof SPLIT_CODES;

/** Frozen-encoder embeddings of a dataset, paired image/report per row. */
export interface EmbeddingSet {
  /** Row ids. */
  ids: string[];
  /** Image embeddings [count, dim], row-major. */
  image: Float32Array<ArrayBuffer>;
  /** Report embeddings [count, dim]. */
  text: Float32Array<ArrayBuffer>;
  /** 0 normal, 1 abnormal. */
  label: Int32Array<ArrayBuffer>;
  /** 0 train, 1 validation, 2 test. */
  split: Int32Array<ArrayBuffer>;
  /** Number of rows. */
  count: number;
  /** Embedding width. */
  dim: number;
  /** Other metadata keys of the file. */
  metadata: Record<string, string>;
}

/**
 * Checks shapes, values and ids; throws an error naming `source`, the field and what was
 * expected (first bad row included).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * const o = { count: 8, dim: 4, latent: 2, noise: 0.1, validation: 0.25, test: 0.25, seed: 1 };
 * const set = syntheticEmbeddings(o);
 * validateEmbeddings(set, "synthetic"); // passes
 * set.label[0] = 2;
 * assert.throws(() => validateEmbeddings(set, "synthetic"), /"label" row 0 is 2, expected one of/);
 * ```
 */
export function validateEmbeddings(set: EmbeddingSet, source: string): void {
  const { count, dim } = set;
  if (!(count >= 1) || !(dim >= 1)) {
    throw new Error(`${source}: needs at least one row and one dimension, got [${count}, ${dim}]`);
  }
  for (const name of ["image", "text"] as const) {
    if (set[name].length !== count * dim) {
      throw new Error(
        `${source}: "${name}" must be [${count}, ${dim}], has ${set[name].length} values`,
      );
    }
    const bad = set[name].findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new Error(
        `${source}: "${name}" row ${Math.floor(bad / dim)} (id ${
          set.ids[Math.floor(bad / dim)]
        }) ` +
          `holds ${set[name][bad]} at column ${bad % dim}; embeddings must be finite`,
      );
    }
  }
  for (const [name, allowed] of [["label", [0, 1]], ["split", [0, 1, 2]]] as const) {
    if (set[name].length !== count) {
      throw new Error(`${source}: "${name}" must be [${count}], has ${set[name].length} values`);
    }
    const bad = set[name].findIndex((v) => !(allowed as readonly number[]).includes(v));
    if (bad >= 0) {
      throw new Error(
        `${source}: "${name}" row ${bad} is ${set[name][bad]}, expected one of ${
          allowed.join(", ")
        }`,
      );
    }
  }
  if (set.ids.length !== count || set.ids.some((id) => typeof id !== "string")) {
    throw new Error(`${source}: __metadata__.ids must be a JSON array of ${count} strings`);
  }
}

/**
 * Reads and validates an embeddings file.
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * const o = { count: 8, dim: 4, latent: 2, noise: 0.1, validation: 0.25, test: 0.25, seed: 1 };
 * const set = syntheticEmbeddings(o);
 * const dir = await Deno.makeTempDir();
 * await saveEmbeddings(`${dir}/embeddings.safetensors`, set);
 * const again = await loadEmbeddings(`${dir}/embeddings.safetensors`); // the same set, validated
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadEmbeddings(path: string): Promise<EmbeddingSet> {
  const { tensors, metadata } = await readSafetensors(path);
  const need = (name: string) => {
    const t = tensors.get(name);
    if (!t) {
      throw new Error(
        `${path}: missing tensor "${name}" (an embeddings file holds image, text, label, split)`,
      );
    }
    return t;
  };
  const image = need("image"), text = need("text");
  if (image.shape.length !== 2) {
    throw new Error(`${path}: "image" must be 2-D [N, D], is [${image.shape}]`);
  }
  if (
    text.shape.length !== 2 || text.shape[0] !== image.shape[0] || text.shape[1] !== image.shape[1]
  ) {
    throw new Error(
      `${path}: "text" must have the shape of "image" [${image.shape}], is [${text.shape}]`,
    );
  }
  const [count, dim] = image.shape;
  let ids: unknown;
  try {
    ids = JSON.parse(metadata.ids ?? "null");
  } catch {
    ids = null;
  }
  if (!Array.isArray(ids)) {
    throw new Error(`${path}: __metadata__.ids must be a JSON array of ${count} strings`);
  }
  const { ids: _, ...rest } = metadata;
  const set: EmbeddingSet = {
    ids: ids as string[],
    image: asF32(image, "image", path),
    text: asF32(text, "text", path),
    label: asI32(need("label"), "label", path),
    split: asI32(need("split"), "split", path),
    count,
    dim,
    metadata: rest,
  };
  validateEmbeddings(set, path);
  return set;
}

/**
 * Writes an embeddings file atomically.
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * const o = { count: 8, dim: 4, latent: 2, noise: 0.1, validation: 0.25, test: 0.25, seed: 1 };
 * const set = syntheticEmbeddings(o);
 * const dir = await Deno.makeTempDir();
 * await saveEmbeddings(`${dir}/embeddings.safetensors`, set);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveEmbeddings(path: string, set: EmbeddingSet): Promise<void> {
  validateEmbeddings(set, path);
  await writeSafetensors(
    path,
    new Map([
      ["image", tensor(set.image, [set.count, set.dim])],
      ["text", tensor(set.text, [set.count, set.dim])],
      ["label", tensor(set.label, [set.count])],
      ["split", tensor(set.split, [set.count])],
    ]),
    { ...set.metadata, ids: JSON.stringify(set.ids) },
  );
}

/**
 * The given rows of a row-major [*, dim] array, as a new [rows.length, dim] array.
 * @example
 * ```ts
 * selectRows(new Float32Array([1, 2, 3, 4, 5, 6]), Uint32Array.of(2, 0), 2); // [5, 6, 1, 2]
 * ```
 */
export function selectRows(
  values: Float32Array,
  rows: Uint32Array,
  dim: number,
): Float32Array<ArrayBuffer> {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(values.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

/**
 * Row indices of one split, in file order.
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * const o = { count: 8, dim: 4, latent: 2, noise: 0.1, validation: 0.25, test: 0.25, seed: 1 };
 * const set = syntheticEmbeddings(o);
 * const train = splitRows(set, "train"); // the rows whose split code is 0
 * const trainImages = selectRows(set.image, train, set.dim);
 * ```
 */
export function splitRows(set: EmbeddingSet, split: SplitName): Uint32Array<ArrayBuffer> {
  const code = SPLIT_CODES[split];
  const rows: number[] = [];
  for (let i = 0; i < set.count; i++) if (set.split[i] === code) rows.push(i);
  return Uint32Array.from(rows);
}
