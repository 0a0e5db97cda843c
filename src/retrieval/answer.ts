/**
 * One query's answer from a projected collection: the query's estimate from the BCE head, its top
 * k of the other modality on the GPU, and each hit described by the collection's rows. Shared by
 * the server's search (`search.ts`) and the page's private one (`../serve/local_search.ts`), so
 * both rank, score and describe hits alike.
 *
 * @module
 */

import type { SplitName } from "../io/embeddings.ts";
import type { SearchHit } from "./search_index.ts";
import type { Projector } from "../model/projector.ts";
import { TOP_K_MAX } from "../ops/retrieval.ts";
import type { Retriever } from "./retriever.ts";

/** A query the search cannot take: a missing file, an undecodable image, an empty report, a bad k. */
export class SearchInputError extends Error {
  /** @param message what is wrong with the query, naming it */
  constructor(message: string) {
    super(message);
    this.name = "SearchInputError";
  }
}

/** What a query found. */
export interface SearchResult {
  /** The query's modality; the hits are of the other one. */
  query: "image" | "text";
  /** The query's probability of abnormal, from the BCE head's classifier. */
  abnormal: number;
  /** The `k` best, best first. */
  hits: SearchHit[];
}

/** What a hit is described with: the collection's studies and image rows. */
export interface CollectionRows {
  /** Study ids. */
  ids: readonly string[];
  /** Each study's label, 0 normal, 1 abnormal. */
  label: ArrayLike<number>;
  /** Each study's findings, report and image files, when the collection keeps them. */
  studies?: readonly {
    patientId?: string;
    findings: string[];
    report: string;
    imagePaths: string[];
  }[];
  /** Each study's split name. */
  splits: readonly SplitName[];
  /** The study of each image row a report query searches. */
  imageStudy: ArrayLike<number>;
  /** The file of each image row (null or missing where unknown). */
  imagePaths: readonly (string | null)[];
}

/** A projected collection ready to answer queries of either modality. */
export interface ProjectedCollection {
  /** The trained heads. */
  projector: Projector;
  /** The studies' reports, searched by an image. */
  reports: Retriever;
  /** The image rows, searched by a report. */
  pictures: Retriever;
  /** What hits are described with. */
  rows: CollectionRows;
}

/**
 * The `k` best of the other modality for one frozen `embedding` of modality `query`, and the
 * query's probability of abnormal. Throws {@link SearchInputError} for a k outside
 * 1..min(64, collection size), and an error naming `encoder` when the embedding's width is not
 * the heads'.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { trainDemoCollection } from "./demo_collection.ts";
 * import { openSearch } from "./search.ts";
 * if (await tryGetGpu()) {
 *   const f = await trainDemoCollection();
 *   await using search = await openSearch({ checkpoint: f.checkpoint, collection: f.collection });
 *   const { reports, pictures, projector } = search.projected;
 *   const image = search.collection!.image.slice(0, 128); // study 0's frozen image embedding
 *   const rows = search.projected.rows;
 *   const { hits } = await answerQuery({ projector, reports, pictures, rows }, "image", image, 3);
 *   hits.map((h) => h.id); // 3 studies, best first
 *   await f.remove();
 * }
 * ```
 */
export async function answerQuery(
  c: ProjectedCollection,
  query: "image" | "text",
  embedding: Float32Array,
  k: number,
  encoder = "the encoder",
): Promise<SearchResult> {
  const { projector, reports, pictures, rows } = c;
  const retriever = query === "image" ? reports : pictures;
  checkQuery(query, embedding, k, {
    size: retriever.size,
    inDim: projector.head.inDim,
    encoder,
    takes: "the collection holds",
  });
  const x = Float32Array.from(embedding);
  const [abnormal] = await projector.classify(query, x, 1);
  const found = await retriever.query(x, k);
  const over = query === "image" ? "text" : "image";
  const hits = found.map((h, i) =>
    studyHit(rows, i + 1, h.score, query === "image" ? h.index : rows.imageStudy[h.index], {
      imagePath: over === "image" ? rows.imagePaths[h.index] ?? null : null,
    })
  );
  return { query, abnormal, hits };
}

/**
 * Checks one frozen `embedding` of modality `query` before it is searched: `k` must be an
 * integer from 1 to min(64, `size`) ({@link SearchInputError} otherwise), and the embedding as
 * wide as the heads take (an error naming `encoder` and saying `takes` — who holds that width —
 * otherwise).
 * @example
 * ```ts
 * const o = { size: 5, inDim: 4, encoder: "weights/demo", takes: "the collection holds" };
 * checkQuery("image", new Float32Array(4), 3, o); // passes
 * ```
 */
export function checkQuery(
  query: "image" | "text",
  embedding: Float32Array,
  k: number,
  o: { size: number; inDim: number; encoder: string; takes: string },
): void {
  const most = Math.min(TOP_K_MAX, o.size);
  if (!(Number.isInteger(k) && k >= 1 && k <= most)) {
    throw new SearchInputError(`k must be an integer from 1 to ${most}, got ${k}`);
  }
  if (embedding.length !== o.inDim) {
    throw new Error(
      `${o.encoder}: the ${query} encoder gives ${embedding.length}-wide embeddings, ` +
        `${o.takes} ${o.inDim}-wide ones`,
    );
  }
}

/**
 * The hit of study `row` of `rows` at `rank` with `score`; `imagePath` is the image that matched
 * (null for a report).
 * @example
 * ```ts
 * const rows = {
 *   ids: ["s1"], label: [1], splits: ["test" as const], imageStudy: [0], imagePaths: ["a.png"],
 *   studies: [{ patientId: "p1", findings: ["Edema"], report: "Edema.", imagePaths: ["a.png"] }],
 * };
 * studyHit(rows, 1, 0.9, 0, { imagePath: "a.png" }).label; // "abnormal"
 * ```
 */
export function studyHit(
  rows: Pick<CollectionRows, "ids" | "label" | "studies" | "splits">,
  rank: number,
  score: number,
  row: number,
  { imagePath }: { imagePath: string | null },
): SearchHit {
  const study = rows.studies?.[row];
  return {
    rank,
    id: rows.ids[row],
    row,
    score,
    label: rows.label[row] === 1 ? "abnormal" : "normal",
    findings: study?.findings ?? [],
    report: study?.report ?? null,
    imagePaths: study?.imagePaths ?? [],
    imagePath,
    patientId: study?.patientId ?? null,
    split: rows.splits[row],
  };
}
