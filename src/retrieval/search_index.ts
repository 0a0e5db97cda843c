/**
 * What every search backend answers, and the one hit type they all return: the `k` studies of a
 * projected collection nearest to projected, unit-length queries, with optional filters (label,
 * split, a patient left out). Two backends implement {@link SearchIndex}: the GPU exact index
 * (`gpu_index.ts`, the collection on the GPU, exact top-k) and PostgreSQL + pgvector
 * (`pgvector_index.ts`, HNSW); `openSearch` puts either behind the encoders and the heads.
 *
 * @module
 */

import { SPLIT_CODES, type SplitName } from "../io/embeddings.ts";
import type { Tower } from "../model/head_graph.ts";

/** Which studies a search may return. */
export interface StudyFilter {
  /** Only studies with this label. */
  label?: "normal" | "abnormal";
  /** Only studies of this split. */
  split?: SplitName;
  /** Never this patient's studies (a query's own patient). */
  excludePatient?: string;
}

/** One study found, best first; the same fields from every backend. */
export interface SearchHit {
  /** 1 for the best. */
  rank: number;
  /** The study's id. */
  id: string;
  /** The study's row in the collection file (the one indexed, for PostgreSQL). */
  row: number;
  /** Cosine similarity to the query in the projected space. */
  score: number;
  /** The study's label. */
  label: "normal" | "abnormal";
  /** The study's finding tags ([] when the collection has none). */
  findings: string[];
  /** The study's report (null when the collection keeps no report text). */
  report: string | null;
  /** The study's image files ([] when the collection keeps none). */
  imagePaths: string[];
  /**
   * The image that matched (report queries), null for a report hit or when unknown. PostgreSQL
   * holds one image row per study (the mean of its images): there it is the study's only image,
   * and null for a study of several.
   */
  imagePath: string | null;
  /** The study's patient (null when the collection keeps none). */
  patientId: string | null;
  /** The study's split. */
  split: SplitName;
}

/** Options of {@link SearchIndex.search}. */
export interface IndexSearchOptions {
  /** Filter; none by default. */
  where?: StudyFilter;
}

/**
 * A projected collection that answers nearest-study queries. Queries are projected, unit-length
 * vectors (`Projector.project` of the checkpoint the collection was projected with).
 * @example
 * ```ts
 * // Any backend, the same call: the 5 reports nearest to each of 2 projected images.
 * async function reportsFor(index: SearchIndex, images: Float32Array): Promise<SearchHit[][]> {
 *   return await index.search("text", images, 2, 5, { where: { label: "abnormal" } });
 * }
 * ```
 */
export interface SearchIndex {
  /** Width of the projections. */
  readonly dim: number;
  /** Rows searched: reports (`text`, one per study) and images (`image`). */
  readonly sizes: Readonly<Record<Tower, number>>;
  /**
   * The `k` nearest studies to each of `count` queries [count, dim], best first, searching the
   * collection's images (`over` "image": the queries are reports) or reports ("text": images).
   * Fewer than `k` when the filter allows fewer rows.
   */
  search(
    over: Tower,
    queries: Float32Array,
    count: number,
    k: number,
    options?: IndexSearchOptions,
  ): Promise<SearchHit[][]>;
  /** Every image file of the collection, its studies in row order. */
  imageFiles(): Promise<string[]>;
  /** Frees what the index holds (GPU buffers, a connection). */
  close(): Promise<void>;
}

/** Split names by code (`EmbeddingSet.split`). */
export const SPLIT_NAMES = Object.keys(SPLIT_CODES) as SplitName[];

/**
 * Parses `--where` clauses: `label=normal|abnormal`, `split=train|validation|test`,
 * `patient!=<id>` (leave that patient out).
 * @example
 * ```ts
 * parseWhere(["label=abnormal", "patient!=p-17"]); // { label: "abnormal", excludePatient: "p-17" }
 * ```
 */
export function parseWhere(clauses: string[]): StudyFilter {
  const filter: StudyFilter = {};
  for (const clause of clauses) {
    const m = /^(label|split|patient)(!?=)(.+)$/.exec(clause.trim());
    const [key, op, value] = m ? [m[1], m[2], m[3].trim()] : [];
    if (key === "label" && op === "=" && (value === "normal" || value === "abnormal")) {
      filter.label = value;
    } else if (key === "split" && op === "=" && value! in SPLIT_CODES) {
      filter.split = value as SplitName;
    } else if (key === "patient" && op === "!=") {
      filter.excludePatient = value;
    } else {
      throw new Error(
        `--where "${clause}": expected label=normal|abnormal, split=train|validation|test or ` +
          `patient!=<id>`,
      );
    }
  }
  return filter;
}

/**
 * True when `where` restricts anything.
 * @example
 * ```ts
 * hasFilter({}); // false
 * hasFilter({ label: "normal" }); // true
 * ```
 */
export function hasFilter(where: StudyFilter | undefined): boolean {
  return where !== undefined && Object.values(where).some((v) => v !== undefined);
}

/**
 * Throws unless `queries` holds `count` rows of `width` finite values: a broken query would score
 * NaN against every row and return rows 0, 1, … as its "best". `name` and `note` word the shape.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * checkQueries("Index.search", new Float32Array(4), 2, { name: "dim", width: 2 }); // passes
 * assert.throws(
 *   () => checkQueries("Index.search", new Float32Array([0, NaN]), 1, { name: "dim", width: 2 }),
 *   /Index.search: query 0 has a non-finite value \(NaN\) at column 1/,
 * );
 * ```
 */
export function checkQueries(
  method: string,
  queries: Float32Array,
  count: number,
  shape: { name: string; width: number; note?: string },
): void {
  const { name, width, note = "" } = shape;
  if (!(Number.isInteger(count) && count >= 0) || queries.length !== count * width) {
    throw new RangeError(
      `${method}: queries must be [count = ${count}, ${name} = ${width}]${note}, got ` +
        `${queries.length} values`,
    );
  }
  const bad = queries.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new RangeError(
      `${method}: query ${Math.floor(bad / width)} has a non-finite value (${queries[bad]}) at ` +
        `column ${bad % width}`,
    );
  }
}
