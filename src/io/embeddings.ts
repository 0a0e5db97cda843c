/**
 * The embeddings file every later step shares, in safetensors: tensors `image` F32 [N,D],
 * `text` F32 [N,D], `label` I32 [N] (0 normal, 1 abnormal), `split` I32 [N] (0 train,
 * 1 validation, 2 test), and `__metadata__.ids`, a JSON array of N strings.
 *
 * Optional, written by `embedRecords` so a collection can show and grade what it finds:
 * - `studies` U8 [bytes]: UTF-8 JSON Lines, one {@link StudyInfo} per row (patient, findings,
 *   report text, image paths). A tensor rather than metadata: MIMIC-CXR's 227,000 reports would
 *   make a header of hundreds of megabytes, which safetensors readers refuse.
 * - `image_each` F32 [M,D] and `image_study` I32 [M]: every image's own embedding and its study's
 *   row, grouped by study in row order (the per-image evaluation; `image` is their mean).
 *
 * Other tensors may be present and are ignored; other metadata keys are kept.
 *
 * @module
 */

import {
  asF32,
  asI32,
  readSafetensors,
  type Tensor,
  tensor,
  writeSafetensors,
} from "./safetensors.ts";

/** Split codes of the `split` tensor. */
export const SPLIT_CODES = { train: 0, validation: 1, test: 2 } as const;

/** A split name. */
export type SplitName = keyof typeof SPLIT_CODES;

/** What a collection keeps about each study besides its embeddings. */
export interface StudyInfo {
  /** The patient (so a search can leave out the query's own patient). */
  patientId: string;
  /** The dataset's positive finding tags (MeSH terms, CheXpert labels, …); [] if none. */
  findings: string[];
  /** The report text that was embedded. */
  report: string;
  /** The image files embedded, in the order of their rows in {@link ImageEmbeddings}. */
  imagePaths: string[];
}

/** Every image's own embedding (a study's `image` row is the mean of its images'). */
export interface ImageEmbeddings {
  /** [count, dim], grouped by study in study order. */
  values: Float32Array<ArrayBuffer>;
  /** The study row of each image, non-decreasing. */
  study: Int32Array<ArrayBuffer>;
  /** Number of images. */
  count: number;
}

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
  /** Per-study facts (tensor `studies`), when the file has them. */
  studies?: StudyInfo[];
  /** Per-image embeddings (tensors `image_each`, `image_study`), when the file has them. */
  images?: ImageEmbeddings;
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
  if (set.studies) validateStudies(set.studies, count, source);
  if (set.images) validateImages(set, set.images, source);
}

function validateStudies(studies: readonly StudyInfo[], count: number, source: string): void {
  if (studies.length !== count) {
    throw new Error(`${source}: "studies" must hold ${count} lines, has ${studies.length}`);
  }
  const strings = (x: unknown) => Array.isArray(x) && x.every((v) => typeof v === "string");
  const bad = studies.findIndex((s) =>
    typeof s?.patientId !== "string" || typeof s.report !== "string" || !strings(s.findings) ||
    !strings(s.imagePaths)
  );
  if (bad >= 0) {
    throw new Error(
      `${source}: "studies" line ${bad + 1} must be {patientId, findings, report, imagePaths} ` +
        `(strings and string arrays), is ${JSON.stringify(studies[bad]).slice(0, 200)}`,
    );
  }
}

function validateImages(set: EmbeddingSet, images: ImageEmbeddings, source: string): void {
  const { count, values, study } = images;
  if (values.length !== count * set.dim || study.length !== count) {
    throw new Error(
      `${source}: "image_each" must be [${count}, ${set.dim}] and "image_study" [${count}], ` +
        `have ${values.length} and ${study.length} values`,
    );
  }
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new Error(
      `${source}: "image_each" row ${Math.floor(bad / set.dim)} holds ${values[bad]}; ` +
        `embeddings must be finite`,
    );
  }
  const row = study.findIndex((s, i) => !(s >= 0 && s < set.count) || (i > 0 && s < study[i - 1]));
  if (row >= 0) {
    throw new Error(
      `${source}: "image_study" row ${row} is ${study[row]}; expected study rows in ` +
        `[0, ${set.count}), non-decreasing`,
    );
  }
  if (set.studies) {
    const perStudy = new Int32Array(set.count);
    for (const s of study) perStudy[s]++;
    const off = set.studies.findIndex((s, i) => s.imagePaths.length !== perStudy[i]);
    if (off >= 0) {
      throw new Error(
        `${source}: study row ${off} (id ${set.ids[off]}) lists ${
          set.studies[off].imagePaths.length
        } image paths but has ${perStudy[off]} rows in "image_each"`,
      );
    }
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
  const studies = tensors.get("studies");
  if (studies) set.studies = parseStudies(studies, path);
  const each = tensors.get("image_each"), eachStudy = tensors.get("image_study");
  if (each || eachStudy) {
    if (!each || !eachStudy) {
      throw new Error(`${path}: "image_each" and "image_study" come together; one is missing`);
    }
    if (each.shape.length !== 2 || each.shape[1] !== dim) {
      throw new Error(`${path}: "image_each" must be [M, ${dim}], is [${each.shape}]`);
    }
    set.images = {
      values: asF32(each, "image_each", path),
      study: asI32(eachStudy, "image_study", path),
      count: each.shape[0],
    };
  }
  validateEmbeddings(set, path);
  return set;
}

function parseStudies(t: Tensor, path: string): StudyInfo[] {
  if (t.dtype !== "U8") throw new Error(`${path}: tensor "studies" must be U8, is ${t.dtype}`);
  const lines = new TextDecoder("utf-8", { fatal: true }).decode(t.data).split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line, i) => {
    try {
      return JSON.parse(line);
    } catch (e) {
      throw new Error(`${path}: "studies" line ${i + 1} is not JSON (${(e as Error).message})`);
    }
  });
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
  const tensors = new Map([
    ["image", tensor(set.image, [set.count, set.dim])],
    ["text", tensor(set.text, [set.count, set.dim])],
    ["label", tensor(set.label, [set.count])],
    ["split", tensor(set.split, [set.count])],
  ]);
  if (set.studies) {
    const jsonl = new TextEncoder().encode(
      set.studies.map((s) => JSON.stringify(s) + "\n").join(""),
    );
    tensors.set("studies", tensor(jsonl, [jsonl.length]));
  }
  if (set.images) {
    tensors.set("image_each", tensor(set.images.values, [set.images.count, set.dim]));
    tensors.set("image_study", tensor(set.images.study, [set.images.count]));
  }
  await writeSafetensors(path, tensors, { ...set.metadata, ids: JSON.stringify(set.ids) });
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
