/**
 * Search a collection by image or by report, opened in one call from a trained checkpoint and a
 * collection: {@link openSearch}. A query goes through the frozen encoder the collection was
 * embedded with and the trained head, then to one of two backends ({@link SearchIndex}): the
 * collection's projections on the GPU with exact top-k (an embeddings file or a dataset), or a
 * PostgreSQL + pgvector table that `deno task index` wrote (`postgres://…`). Each hit carries
 * what a reader needs (study id, score, label, findings, report, image paths, patient, split),
 * the same from both, and the result carries the query's probability of abnormal from the BCE
 * head's classifier. Optional filters: label, split, a patient left out.
 *
 * Image queries search the collection's reports; report queries search its images (on the GPU,
 * each image of a study on its own row when the collection keeps per-image embeddings, else each
 * study's mean image; in PostgreSQL, each study's mean image). A file collection's projections
 * are cached beside the checkpoint (`projected_index.ts`). Queries on one search run one at a
 * time, in call order (the encoders' sessions and the GPU queue are shared), so concurrent
 * callers need no lock of their own.
 *
 * @module
 */

import { loadDataset } from "../data/load_dataset.ts";
import type { DatasetOptions } from "../data/load_dataset.ts";
import { openTokenizer } from "../encoders/clip_import.ts";
import { embedRecords } from "../encoders/embed_dataset.ts";
import { checkEncoders, encoderIds } from "../encoders/encoder_ids.ts";
import { type BiomedClipEncoders, openBiomedClip } from "../encoders/encoders.ts";
import { readManifest } from "../encoders/manifest.ts";
import { preprocessImage } from "../encoders/preprocess_image.ts";
import { reportProblem } from "../encoders/skipped_inputs.ts";
import { getGpu } from "../gpu/context.ts";
import { type EmbeddingSet, loadEmbeddings } from "../io/embeddings.ts";
import { type Checkpoint, loadCheckpoint } from "../model/checkpoint.ts";
import { Projector } from "../model/projector.ts";
import {
  checkQuery,
  type ProjectedCollection,
  SearchInputError,
  type SearchResult,
} from "./answer.ts";
import { GpuExactIndex } from "./gpu_index.ts";
import { PgvectorIndex } from "./pgvector_index.ts";
import { checkTableIdentity } from "./pgvector_schema.ts";
import { headHash } from "./pgvector_write.ts";
import { openProjectedIndex } from "./projected_index.ts";
import type { IndexSearchOptions, SearchIndex } from "./search_index.ts";

export { SearchInputError } from "./answer.ts";
export type { SearchResult } from "./answer.ts";

/** Weights folders tried, in order, when none is given: the real import, then the demo's. */
export const DEFAULT_WEIGHTS = ["weights", "weights/demo"] as const;

/** A dataset to embed (through the embedding cache) and search. */
export interface DatasetCollection extends DatasetOptions {
  /** Embedding cache root (default `.cache/embeddings`). */
  cacheDir?: string;
}

/** Options of {@link openSearch}. */
export interface SearchOptions {
  /** Projector checkpoint (`logs/<run>/checkpoints/best.safetensors`). */
  checkpoint: string;
  /** An embeddings file, or a dataset embedded through the cache; or give `index`. */
  collection?: string | DatasetCollection;
  /**
   * A PostgreSQL + pgvector collection instead (`postgres://user@host[:port]/database`), written
   * by `deno task index` with this checkpoint's head; a table of another head or encoder is
   * refused.
   */
  index?: string;
  /** The table of `index` (default `cxr_studies`). */
  table?: string;
  /** `hnsw.ef_search` of `index`'s searches (default 100). */
  efSearch?: number;
  /**
   * The encoders' weights folder. Default: the first of {@link DEFAULT_WEIGHTS} whose encoder
   * ids the collection (or table) records (a dataset collection: `weights`).
   */
  weights?: string;
  /** Receives warnings (an uncached index, a collection without encoder ids); `console.warn`. */
  log?: (message: string) => void;
}

/** What was opened. */
export interface SearchInfo {
  /** The checkpoint. */
  checkpoint: string;
  /**
   * The collection (a file path, `<dataset>:<dataDir>`, or `table <t> at <user@host:port/db>`).
   */
  collection: string;
  /** Where it is searched: the GPU exact index, or PostgreSQL + pgvector. */
  backend: "gpu" | "pgvector";
  /** The encoders' weights folder. */
  weights: string;
  /** Studies (report rows). */
  studies: number;
  /** Image rows searched by a report. */
  images: number;
  /**
   * The projected index: its file and whether it was read from the cache (for PostgreSQL, the
   * table, always read).
   */
  index: { path: string; cached: boolean };
  /** Whether the collection says it is SYNTHETIC (a PostgreSQL table records no such flag). */
  synthetic: boolean;
}

/**
 * Opens a search: loads the checkpoint, the collection (or embeds the dataset through the
 * cache), checks that the collection was embedded by the weights' towers, opens the encoders
 * and puts the projected collection on the GPU (from the index cache when it is current). With
 * `index` (`postgres://…`) it connects to that table instead and refuses it unless this
 * checkpoint's head and the weights' encoders wrote it. Errors name the missing or mismatched
 * file, table or server.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { trainDemoCollection } from "./demo_collection.ts";
 * if (await tryGetGpu()) {
 *   const f = await trainDemoCollection(); // 24 SYNTHETIC studies, heads trained on them
 *   await using search = await openSearch({ checkpoint: f.checkpoint, collection: f.collection });
 *   search.info.studies; // 24
 *   const { hits, abnormal } = await search.searchByText("Small left pleural effusion.", 3);
 *   // hits: 3 images with their studies' reports and labels; abnormal: the report's estimate
 *   await f.remove();
 * }
 * ```
 */
export async function openSearch(o: SearchOptions): Promise<CollectionSearch> {
  const log = o.log ?? console.warn;
  if ((o.collection === undefined) === (o.index === undefined)) {
    throw new Error("openSearch: give a collection (file or dataset) or an index (postgres://…)");
  }
  const opened = o.index === undefined
    ? await openCollection(o, o.collection!, log)
    : await openTable(o, o.index);
  try {
    const encoders = await openBiomedClip(opened.info.weights);
    return new CollectionSearch({ ...opened, encoders });
  } catch (e) {
    await opened.index.close();
    opened.projector.params.buffer.destroy();
    throw e;
  }
}

/** A backend opened, before the encoders. */
type Opened = Omit<Parts, "encoders">;

/** The GPU exact index of an embeddings file or a dataset. */
async function openCollection(
  o: SearchOptions,
  collection: string | DatasetCollection,
  log: (message: string) => void,
): Promise<Opened> {
  let set: EmbeddingSet, weights: string, name: string;
  if (typeof collection === "string") {
    name = collection;
    await mustExist(name, "collection");
    set = await loadEmbeddings(name);
    weights = o.weights ??
      await weightsFor(
        { image: set.metadata.image_encoder, text: set.metadata.text_encoder },
        name,
      );
  } else {
    const d = collection;
    name = `${d.dataset}:${d.dataDir}`;
    weights = o.weights ?? DEFAULT_WEIGHTS[0];
    const { records } = await loadDataset(d);
    const cacheDir = d.cacheDir ?? ".cache/embeddings";
    ({ set } = await embedRecords(records, {
      weightsDir: weights,
      cacheDir,
      progress: false,
      log,
    }));
  }
  const warning = checkEncoders(
    set.metadata,
    encoderIds(await readManifest(weights)),
    name,
    weights,
  );
  if (warning) log(warning);
  await mustExist(o.checkpoint, "checkpoint");
  const checkpoint = await loadCheckpoint(o.checkpoint);
  checkTrainedOn(checkpoint, o.checkpoint, set, name);
  const { head, params, inputNorm } = checkpoint;
  const projector = new Projector(await getGpu(), head, params, inputNorm);
  const images = set.images?.values ?? set.image;
  const projected = await openProjectedIndex(
    projector,
    { checkpoint: o.checkpoint, ids: set.ids, text: set.text, image: images },
    log,
  );
  const index = await GpuExactIndex.create(projector, set, projected);
  const info: SearchInfo = {
    checkpoint: o.checkpoint,
    collection: name,
    backend: "gpu",
    weights,
    studies: set.count,
    images: index.sizes.image,
    index: { path: projected.path, cached: projected.cached },
    synthetic: set.metadata.synthetic === "true",
  };
  return { set, projector, index, info };
}

/** A PostgreSQL + pgvector table, refused unless this checkpoint's head and towers wrote it. */
async function openTable(o: SearchOptions, url: string): Promise<Opened> {
  await mustExist(o.checkpoint, "checkpoint");
  const checkpoint = await loadCheckpoint(o.checkpoint);
  const index = await PgvectorIndex.open(url, { table: o.table, efSearch: o.efSearch });
  try {
    const name = `table ${index.table} at ${index.server}`, wrote = index.state.identity;
    const weights = o.weights ??
      await weightsFor({ image: wrote?.imageEncoder, text: wrote?.textEncoder }, name);
    const towers = encoderIds(await readManifest(weights));
    checkTableIdentity(index.state, {
      imageEncoder: towers.image,
      textEncoder: towers.text,
      head: headHash(checkpoint),
      dim: checkpoint.head.outDim,
    }, name);
    const { head, params, inputNorm } = checkpoint;
    const projector = new Projector(await getGpu(), head, params, inputNorm);
    const info: SearchInfo = {
      checkpoint: o.checkpoint,
      collection: name,
      backend: "pgvector",
      weights,
      studies: index.state.rows,
      images: index.state.rows,
      index: { path: name, cached: true },
      synthetic: false,
    };
    return { set: null, projector, index, info };
  } catch (e) {
    await index.close();
    throw e;
  }
}

/**
 * Throws unless the checkpoint's heads take `set`'s embeddings: the same width and, where the
 * checkpoint records the encoders it was trained on, the same towers.
 */
function checkTrainedOn(c: Checkpoint, path: string, set: EmbeddingSet, name: string): void {
  const fix = "use a checkpoint trained on embeddings of the collection's encoder";
  if (c.head.inDim !== set.dim) {
    throw new Error(
      `${path}: the heads take ${c.head.inDim}-wide embeddings, ${name} holds ${set.dim}-wide ` +
        `ones; ${fix}`,
    );
  }
  const trainedOn = (c.config.dataset ?? {}) as Record<string, unknown>;
  const other = (["image_encoder", "text_encoder"] as const).find((key) =>
    typeof trainedOn[key] === "string" && set.metadata[key] !== undefined &&
    trainedOn[key] !== set.metadata[key]
  );
  if (other) {
    throw new Error(
      `${path} was trained on embeddings of ${trainedOn[other]}, but ${name} was embedded by ` +
        `${set.metadata[other]}; ${fix}`,
    );
  }
}

/** Throws a clear error when `path` is not a readable file. */
async function mustExist(path: string, what: string): Promise<void> {
  try {
    if ((await Deno.stat(path)).isFile) return;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`${path}: no such ${what} file`);
    }
    throw new Error(`${path}: cannot read the ${what} (${(e as Error).message})`);
  }
  throw new Error(`${path}: the ${what} is not a file`);
}

/** The first default weights folder holding the towers `name` records; throws naming them. */
async function weightsFor(
  towers: { image?: string; text?: string },
  name: string,
): Promise<string> {
  const { image, text } = towers;
  if (image === undefined || text === undefined) {
    throw new Error(`${name} records no encoder ids; say which weights embedded it (--weights)`);
  }
  for (const dir of DEFAULT_WEIGHTS) {
    const ids = await readManifest(dir).then(encoderIds, () => null);
    if (ids?.image === image && ids.text === text) return dir;
  }
  throw new Error(
    `${name} was embedded by ${image} and ${text}; none of ${DEFAULT_WEIGHTS.join(", ")} holds ` +
      `those towers: pass the weights folder it was embedded with (--weights)`,
  );
}

/** What {@link CollectionSearch} holds. */
interface Parts {
  /** The collection file's content; null for a PostgreSQL table. */
  set: EmbeddingSet | null;
  projector: Projector;
  encoders: BiomedClipEncoders;
  index: SearchIndex;
  info: SearchInfo;
}

/**
 * A collection ready to search by image or by report ({@link openSearch} opens one). It holds the
 * encoders' sessions and the projected collection on the GPU (or a connection to PostgreSQL)
 * until {@link CollectionSearch.close} (or the end of an `await using` block).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { trainDemoCollection } from "./demo_collection.ts";
 * if (await tryGetGpu()) {
 *   const f = await trainDemoCollection();
 *   const search = await openSearch({ checkpoint: f.checkpoint, collection: f.collection });
 *   const result = await search.searchByImage(f.imagePaths[0], 5); // 5 reports, best first
 *   await search.close();
 *   await f.remove();
 * }
 * ```
 */
export class CollectionSearch {
  /** What was opened: files, sizes, whether the index came from the cache. */
  readonly info: SearchInfo;
  /**
   * The collection file searched (its embeddings, labels and, when kept, studies); null for a
   * PostgreSQL table.
   */
  readonly collection: EmbeddingSet | null;
  readonly #p: Parts;
  #tokenizer: ReturnType<typeof openTokenizer> | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** Use {@link openSearch}. */
  constructor(parts: Parts) {
    this.#p = parts;
    this.info = parts.info;
    this.collection = parts.set;
  }

  /**
   * The heads and the collection's projections on the GPU, with the rows that describe hits, as
   * the page's private search takes them (`answerQuery`). Throws for a PostgreSQL table, whose
   * projections stay in the database.
   */
  get projected(): ProjectedCollection {
    const { set, index, projector } = this.#p;
    if (!set || !(index instanceof GpuExactIndex)) {
      throw new Error(`${this.info.collection}: only a collection file has projections to send`);
    }
    const reports = index.view("text"), pictures = index.view("image");
    const rows = { ...index.described, imageStudy: pictures.study, imagePaths: pictures.imagePath };
    return { projector, reports: reports.retriever, pictures: pictures.retriever, rows };
  }

  /**
   * The `k` reports most similar to an X-ray (PNG or JPEG bytes, or a file path), and the
   * image's probability of abnormal; `options.where` filters the reports (label, split, a
   * patient left out). Throws {@link SearchInputError} for a file that cannot be read, bytes that
   * are not a decodable PNG or JPEG, or a k outside 1..min(64, studies).
   * @example
   * ```ts
   * import { tryGetGpu } from "../gpu/context.ts";
   * import { trainDemoCollection } from "./demo_collection.ts";
   * if (await tryGetGpu()) {
   *   const f = await trainDemoCollection();
   *   await using search = await openSearch({ checkpoint: f.checkpoint, collection: f.collection });
   *   const bytes = await Deno.readFile(f.imagePaths[0]); // e.g. an upload
   *   const { abnormal, hits } = await search.searchByImage(bytes, 3);
   *   hits.map((h) => `${h.rank}. ${h.score.toFixed(3)} ${h.label}: ${h.report}`);
   *   const others = await search.searchByImage(bytes, 3, {
   *     where: { excludePatient: hits[0].patientId!, label: "abnormal" },
   *   }); // abnormal studies of other patients
   *   await f.remove();
   * }
   * ```
   */
  searchByImage(
    image: Uint8Array | string,
    k: number,
    options: IndexSearchOptions = {},
  ): Promise<SearchResult> {
    return this.#serial(async () => {
      const name = typeof image === "string" ? image : "the query image";
      const bytes = typeof image === "string" ? await readQueryFile(image) : image;
      let pixels: Float32Array;
      try {
        pixels = preprocessImage(bytes, { size: this.#p.encoders.image.imageSize, name });
      } catch (e) {
        throw new SearchInputError((e as Error).message);
      }
      const embedding = await this.#p.encoders.image.encode(pixels);
      return await this.#search("image", embedding, k, options);
    });
  }

  /**
   * The `k` images most similar to a report, and the report's probability of abnormal;
   * `options.where` filters their studies. Throws {@link SearchInputError} for an empty report
   * (or one with no tokens) or a bad k.
   * @example
   * ```ts
   * import { tryGetGpu } from "../gpu/context.ts";
   * import { trainDemoCollection } from "./demo_collection.ts";
   * if (await tryGetGpu()) {
   *   const f = await trainDemoCollection();
   *   await using search = await openSearch({ checkpoint: f.checkpoint, collection: f.collection });
   *   const { hits } = await search.searchByText("Moderate right-sided pneumothorax.", 4);
   *   hits.map((h) => h.imagePath); // the 4 images, best first
   *   await f.remove();
   * }
   * ```
   */
  searchByText(report: string, k: number, options: IndexSearchOptions = {}): Promise<SearchResult> {
    return this.#serial(async () => {
      const { encoders } = this.#p;
      this.#tokenizer ??= openTokenizer(this.info.weights, encoders.manifest);
      const tokenizer = await this.#tokenizer;
      const problem = reportProblem(tokenizer, report);
      if (problem !== null) throw new SearchInputError(`the query report: ${problem}`);
      const { ids, mask } = tokenizer.encodeBatch([report], encoders.text.contextLength);
      return await this.#search("text", await encoders.text.encode(ids, mask), k, options);
    });
  }

  /**
   * Every image file of the collection, its studies in row order (what a page may show).
   * @example
   * ```ts
   * import { tryGetGpu } from "../gpu/context.ts";
   * import { trainDemoCollection } from "./demo_collection.ts";
   * if (await tryGetGpu()) {
   *   const f = await trainDemoCollection();
   *   await using search = await openSearch({ checkpoint: f.checkpoint, collection: f.collection });
   *   (await search.imageFiles()).length; // 24
   *   await f.remove();
   * }
   * ```
   */
  imageFiles(): Promise<string[]> {
    return this.#serial(() => this.#p.index.imageFiles());
  }

  /**
   * Frees the encoders' sessions and the GPU buffers (or the connection); later searches throw. Calling it again
   * does nothing. Waits for the searches already queued.
   * @example
   * ```ts
   * import { tryGetGpu } from "../gpu/context.ts";
   * import { trainDemoCollection } from "./demo_collection.ts";
   * if (await tryGetGpu()) {
   *   const f = await trainDemoCollection();
   *   const search = await openSearch({ checkpoint: f.checkpoint, collection: f.collection });
   *   await search.close();
   *   await search.close(); // does nothing
   *   await f.remove();
   * }
   * ```
   */
  close(): Promise<void> {
    return this.#serial(async () => {
      if (this.#closed) return;
      this.#closed = true;
      const { encoders, index, projector } = this.#p;
      await index.close();
      projector.params.buffer.destroy();
      await encoders.image.release();
      await encoders.text.release();
    }, true);
  }

  /** {@link CollectionSearch.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Runs `f` after every call queued before it; refuses once closed. */
  #serial<T>(f: () => Promise<T>, closing = false): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#closed && !closing) {
        throw new Error("CollectionSearch: this search was closed; open another with openSearch");
      }
      return f();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Top k of the other modality for one frozen embedding, with the query's estimate. */
  async #search(
    query: "image" | "text",
    embedding: Float32Array,
    k: number,
    options: IndexSearchOptions,
  ): Promise<SearchResult> {
    const { projector, index } = this.#p, over = query === "image" ? "text" : "image";
    const size = index.sizes[over];
    if (size === 0) throw new SearchInputError(`${this.info.collection} holds no studies`);
    checkQuery(query, embedding, k, {
      size,
      inDim: projector.head.inDim,
      encoder: this.info.weights,
      takes: "the checkpoint's heads take",
    });
    const x = Float32Array.from(embedding);
    const { abnormal, projections } = await projector.projectAndClassify(query, x, 1);
    const [hits] = await index.search(over, projections, 1, k, options);
    return { query, abnormal: abnormal[0], hits };
  }
}

/** Reads a query image file; a missing or unreadable one is the query's fault. */
async function readQueryFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new SearchInputError(`${path}: cannot read the query image (${why})`);
  }
}
