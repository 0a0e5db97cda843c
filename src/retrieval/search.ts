/**
 * Search a collection by image or by report, opened in one call from a trained checkpoint and a
 * collection: {@link openSearch}. A query goes through the frozen encoder the collection was
 * embedded with, the trained head, the similarity and the exact top-k on the GPU; each hit
 * carries what a reader needs (study id, score, label, findings, report, image paths), and the
 * result carries the query's probability of abnormal from the BCE head's classifier.
 *
 * Image queries search the collection's reports; report queries search its images (each image
 * of a study on its own row when the collection keeps per-image embeddings, else each study's
 * mean image). The collection's projections are cached beside the checkpoint
 * (`projected_index.ts`). Queries on one search run one at a time, in call order (the encoders'
 * sessions and the GPU queue are shared), so concurrent callers need no lock of their own.
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
  answerQuery,
  type CollectionRows,
  type ProjectedCollection,
  SearchInputError,
  type SearchResult,
} from "./answer.ts";
import { openProjectedIndex } from "./projected_index.ts";
import { Retriever } from "./retriever.ts";

export { SearchInputError } from "./answer.ts";
export type { SearchHit, SearchResult } from "./answer.ts";

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
  /** An embeddings file, or a dataset embedded through the cache. */
  collection: string | DatasetCollection;
  /**
   * The encoders' weights folder. Default: the first of {@link DEFAULT_WEIGHTS} whose encoder
   * ids the collection records (a dataset collection: `weights`).
   */
  weights?: string;
  /** Receives warnings (an uncached index, a collection without encoder ids); `console.warn`. */
  log?: (message: string) => void;
}

/** What was opened. */
export interface SearchInfo {
  /** The checkpoint. */
  checkpoint: string;
  /** The collection (a file path, or `<dataset>:<dataDir>`). */
  collection: string;
  /** The encoders' weights folder. */
  weights: string;
  /** Studies (report rows). */
  studies: number;
  /** Image rows searched by a report. */
  images: number;
  /** The projected index file, and whether it was read from the cache. */
  index: { path: string; cached: boolean };
}

/**
 * Opens a search: loads the checkpoint, the collection (or embeds the dataset through the
 * cache), checks that the collection was embedded by the weights' towers, opens the encoders
 * and puts the projected collection on the GPU (from the index cache when it is current).
 * Errors name the missing or mismatched file.
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
  let set: EmbeddingSet, weights: string, name: string;
  if (typeof o.collection === "string") {
    name = o.collection;
    await mustExist(name, "collection");
    set = await loadEmbeddings(name);
    weights = o.weights ?? await weightsFor(set, name);
  } else {
    const d = o.collection;
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
  const index = await openProjectedIndex(
    projector,
    { checkpoint: o.checkpoint, ids: set.ids, text: set.text, image: images },
    log,
  );
  const imageStudy = set.images?.study ?? Int32Array.from(set.ids, (_, i) => i);
  const imageIds = Array.from(imageStudy, (s) => set.ids[s]);
  const reports = await Retriever.fromProjections(projector, "text", index.text, set.ids);
  const pictures = await Retriever.fromProjections(projector, "image", index.image, imageIds);
  const encoders = await openBiomedClip(weights);
  const rows = { ...set, imageStudy, imagePaths: imagePathsByRow(set) };
  const info: SearchInfo = {
    checkpoint: o.checkpoint,
    collection: name,
    weights,
    studies: set.count,
    images: imageIds.length,
    index: { path: index.path, cached: index.cached },
  };
  const parts = { set, projected: { projector, reports, pictures, rows }, encoders, info };
  return new CollectionSearch(parts);
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

/** The first default weights folder holding the towers `set` records; throws naming them. */
async function weightsFor(set: EmbeddingSet, name: string): Promise<string> {
  const image = set.metadata.image_encoder, text = set.metadata.text_encoder;
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
  set: EmbeddingSet;
  projected: ProjectedCollection & { rows: CollectionRows };
  encoders: BiomedClipEncoders;
  info: SearchInfo;
}

/**
 * A collection ready to search by image or by report ({@link openSearch} opens one). It holds the
 * encoders' sessions and the projected collection on the GPU until {@link CollectionSearch.close}
 * (or the end of an `await using` block).
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
  /** The collection searched (its embeddings, labels and, when kept, studies). */
  readonly collection: EmbeddingSet;
  /** The heads and the projected collection on the GPU, and the rows that describe hits. */
  readonly projected: ProjectedCollection;
  readonly #p: Parts;
  #tokenizer: ReturnType<typeof openTokenizer> | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** Use {@link openSearch}. */
  constructor(parts: Parts) {
    this.#p = parts;
    this.info = parts.info;
    this.collection = parts.set;
    this.projected = parts.projected;
  }

  /**
   * The `k` reports most similar to an X-ray (PNG or JPEG bytes, or a file path), and the
   * image's probability of abnormal. Throws {@link SearchInputError} for a file that cannot be
   * read, bytes that are not a decodable PNG or JPEG, or a k outside 1..min(64, studies).
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
   *   await f.remove();
   * }
   * ```
   */
  searchByImage(image: Uint8Array | string, k: number): Promise<SearchResult> {
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
      return await this.#search("image", embedding, k);
    });
  }

  /**
   * The `k` images most similar to a report, and the report's probability of abnormal. Throws
   * {@link SearchInputError} for an empty report (or one with no tokens) or a bad k.
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
  searchByText(report: string, k: number): Promise<SearchResult> {
    return this.#serial(async () => {
      const { encoders } = this.#p;
      this.#tokenizer ??= openTokenizer(this.info.weights, encoders.manifest);
      const tokenizer = await this.#tokenizer;
      const problem = reportProblem(tokenizer, report);
      if (problem !== null) throw new SearchInputError(`the query report: ${problem}`);
      const { ids, mask } = tokenizer.encodeBatch([report], encoders.text.contextLength);
      return await this.#search("text", await encoders.text.encode(ids, mask), k);
    });
  }

  /**
   * Frees the encoders' sessions and the GPU buffers; later searches throw. Calling it again
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
      const { encoders, projected: { reports, pictures, projector } } = this.#p;
      reports.dispose();
      pictures.dispose();
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
  #search(query: "image" | "text", embedding: Float32Array, k: number): Promise<SearchResult> {
    return answerQuery(this.#p.projected, query, embedding, k, this.info.weights);
  }
}

/**
 * The image file of each image row a report query searches (per-image rows when the collection
 * keeps them, else each study's first image); null where the collection keeps no paths.
 */
function imagePathsByRow(set: EmbeddingSet): (string | null)[] {
  if (!set.studies) return [];
  if (set.images) return set.studies.flatMap((s) => s.imagePaths);
  return set.studies.map((s) => s.imagePaths[0] ?? null);
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
