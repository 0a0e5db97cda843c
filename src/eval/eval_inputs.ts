/**
 * What `deno task eval` evaluates, taken from embeddings files: one split's studies as study rows
 * or image rows (the unit), their clinical relevances, and the rows of another file of the same
 * collection (a baseline from other encoders), matched to the main file by study id.
 *
 * @module
 */

import { type EmbeddingSet, selectRows } from "../io/embeddings.ts";
import { findingsRelevance, labelRelevance, type Relevance } from "../metrics/clinical.ts";

/** The evaluation units `--unit` accepts: per study (the default) or per image. */
export const EVAL_UNITS = ["study", "image"] as const;

/** An evaluation unit. */
export type EvalUnit = (typeof EVAL_UNITS)[number];

/** One split's embeddings in one unit. */
export interface UnitEmbeddings {
  /** Image rows: one per study (the mean of its images), or per image every image. */
  image: Float32Array<ArrayBuffer>;
  /** One report per study [studies, dim]. */
  text: Float32Array<ArrayBuffer>;
  /** Studies. */
  studies: number;
  /** Rows of `image` (studies, or images). */
  imageRows: number;
  /** Embedding width. */
  dim: number;
  /** Per image: each image row's study (an index into the selected studies). */
  imageStudy?: Int32Array<ArrayBuffer>;
}

/**
 * The embeddings of the studies `rows` of `set`, in that order: per study their `image` and
 * `text` rows; per image every image of each (tensors `image_each`, `image_study`), grouped by
 * study. Throws, naming `source`, when per-image rows are asked of a file without them.
 * @example
 * ```ts
 * const set = {
 *   ids: ["a", "b"], count: 2, dim: 1, metadata: {},
 *   image: Float32Array.of(1, 2), text: Float32Array.of(3, 4),
 *   label: Int32Array.of(0, 1), split: Int32Array.of(2, 2),
 *   images: { values: Float32Array.of(0.5, 1.5, 2), study: Int32Array.of(0, 0, 1), count: 3 },
 * };
 * const e = unitEmbeddings(set, Uint32Array.of(1, 0), "image", "e.safetensors");
 * // e.image [2, 0.5, 1.5], e.imageStudy [0, 1, 1], e.text [4, 3]
 * ```
 */
export function unitEmbeddings(
  set: EmbeddingSet,
  rows: Uint32Array,
  unit: EvalUnit,
  source: string,
): UnitEmbeddings {
  const text = selectRows(set.text, rows, set.dim);
  const base = { text, studies: rows.length, dim: set.dim };
  if (unit === "study") {
    return { ...base, image: selectRows(set.image, rows, set.dim), imageRows: rows.length };
  }
  if (!set.images) {
    throw new Error(
      `${source}: per-image evaluation (--unit image) needs every image's embedding (tensors ` +
        `"image_each", "image_study"); this file has none. Embed the dataset again ` +
        "(deno task embed) to get them",
    );
  }
  const first = new Int32Array(set.count + 1);
  for (const s of set.images.study) first[s + 1]++;
  for (let s = 0; s < set.count; s++) first[s + 1] += first[s];
  const picked: number[] = [], imageStudy: number[] = [];
  rows.forEach((r, i) => {
    for (let m = first[r]; m < first[r + 1]; m++) {
      picked.push(m);
      imageStudy.push(i);
    }
  });
  return {
    ...base,
    image: selectRows(set.images.values, Uint32Array.from(picked), set.dim),
    imageRows: picked.length,
    imageStudy: Int32Array.from(imageStudy),
  };
}

/**
 * The clinical relevances of the studies `rows` of `set`: by normal/abnormal label, and by
 * findings when at least one of these studies has a finding label (tensor `studies`); a file
 * without findings (or whose split has none: every study would agree with every other) gets
 * label relevance only.
 * @example
 * ```ts
 * const set = {
 *   ids: ["a", "b"], count: 2, dim: 1, metadata: {},
 *   image: Float32Array.of(1, 2), text: Float32Array.of(3, 4),
 *   label: Int32Array.of(0, 1), split: Int32Array.of(2, 2),
 *   studies: [
 *     { patientId: "p1", findings: [], report: "Normal.", imagePaths: ["a.png"] },
 *     { patientId: "p2", findings: ["Effusion"], report: "Effusion.", imagePaths: ["b.png"] },
 *   ],
 * };
 * studyRelevance(set, Uint32Array.of(0, 1)).map((r) => r.name); // ["label", "findings"]
 * ```
 */
export function studyRelevance(set: EmbeddingSet, rows: Uint32Array): Relevance[] {
  const relevance = [labelRelevance(Int32Array.from(rows, (r) => set.label[r]))];
  const findings = set.studies ? Array.from(rows, (r) => set.studies![r].findings) : [];
  if (findings.some((f) => f.length > 0)) relevance.push(findingsRelevance(findings));
  return relevance;
}

/**
 * The rows of `baseline` holding the studies `rows` of `main`, matched by study id (the files may
 * order them differently). Throws, naming `source`, when studies are missing (how many and the
 * first ids) or a study's normal/abnormal label differs (another collection).
 * @example
 * ```ts
 * const file = (ids: string[]) => ({
 *   ids, count: 2, dim: 1, metadata: {}, image: Float32Array.of(1, 2), text: Float32Array.of(3, 4),
 *   label: Int32Array.of(0, 0), split: Int32Array.of(2, 2),
 * });
 * matchStudies(file(["b", "a"]), file(["a", "b"]), Uint32Array.of(0, 1), "clip.safetensors");
 * // Uint32Array [1, 0]
 * ```
 */
export function matchStudies(
  baseline: EmbeddingSet,
  main: EmbeddingSet,
  rows: Uint32Array,
  source: string,
): Uint32Array {
  const at = new Map(baseline.ids.map((id, i) => [id, i]));
  const missing = Array.from(rows, (r) => main.ids[r]).filter((id) => !at.has(id));
  if (missing.length > 0) {
    throw new Error(
      `${source}: ${missing.length} of the ${rows.length} studies evaluated are not in this ` +
        `baseline file (first: ${missing.slice(0, 5).join(", ")}); a baseline must embed the ` +
        "same collection as the main embeddings",
    );
  }
  const matched = Uint32Array.from(rows, (r) => at.get(main.ids[r])!);
  const differ = rows.findIndex((r, i) => baseline.label[matched[i]] !== main.label[r]);
  if (differ >= 0) {
    const r = rows[differ];
    throw new Error(
      `${source}: study ${main.ids[r]} is labelled ${baseline.label[matched[differ]]} here and ` +
        `${main.label[r]} in the main embeddings; a baseline must embed the same collection`,
    );
  }
  return matched;
}

/**
 * Throws, naming `source` and the first study that differs, unless a baseline's per-image rows
 * have as many images per study as the main file's (so both rows rank the same queries).
 * @example
 * ```ts
 * const e = { image: new Float32Array(3), text: new Float32Array(2), studies: 2, imageRows: 3,
 *   dim: 1, imageStudy: Int32Array.of(0, 0, 1) };
 * sameImages(e, e, ["a", "b"], "clip.safetensors"); // passes
 * ```
 */
export function sameImages(
  main: UnitEmbeddings,
  baseline: UnitEmbeddings,
  ids: readonly string[],
  source: string,
): void {
  const perStudy = (e: UnitEmbeddings) => {
    const n = new Int32Array(e.studies);
    for (const s of e.imageStudy ?? []) n[s]++;
    return n;
  };
  const a = perStudy(main), b = perStudy(baseline);
  const differ = a.findIndex((x, i) => x !== b[i]);
  if (differ >= 0) {
    throw new Error(
      `${source}: study ${ids[differ]} has ${b[differ]} image(s) here and ${a[differ]} in the ` +
        "main embeddings; per-image evaluation needs the same images in both files",
    );
  }
}
