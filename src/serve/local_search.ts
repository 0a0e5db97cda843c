/**
 * The page's private search: the whole query runs in the browser. The frozen towers run in
 * onnxruntime-web (WASM), the trained heads, the similarity and the exact top-k run as the
 * project's own WGSL kernels on the browser's WebGPU, over a local index downloaded once
 * (`local_index.ts`). The image or report searched is never sent anywhere. The app bundles this
 * module for the page (`local_bundle.ts`) and serves what it fetches under `/local/`
 * (`local_files.ts`).
 *
 * @module
 */

import * as ort from "onnxruntime-web";
import { ImageEncoder, TextEncoder } from "../encoders/towers.ts";
import { preprocessImage } from "../encoders/preprocess_image.ts";
import { reportProblem } from "../encoders/skipped_inputs.ts";
import { parseVocab, WordPieceTokenizer } from "../encoders/tokenizer.ts";
import { GpuContext } from "../gpu/context.ts";
import { Projector } from "../model/projector.ts";
import {
  answerQuery,
  type ProjectedCollection,
  SearchInputError,
  type SearchResult,
} from "../retrieval/answer.ts";
import { Retriever } from "../retrieval/retriever.ts";
import { decodeLocalIndex } from "./local_index.ts";
import { uploadProblem } from "./upload.ts";

/** What the page learns when the private search is open. */
export interface LocalSearchInfo {
  /** The WebGPU adapter the heads and top-k run on. */
  adapter: string;
  /** Studies and image rows downloaded. */
  studies: number;
  /** Image rows. */
  images: number;
}

/**
 * Opens the private search from the app at `base` (e.g. `/local/`): WebGPU device, kernels, local
 * index, both towers and the vocabulary. Throws when the browser has no WebGPU adapter (the page
 * then searches on the server).
 * @example
 * ```ts ignore
 * // In the page (the app serves this module bundled at /local/search.js):
 * const search = await openLocalSearch("/local/");
 * const { hits } = await search.searchByText("Small left pleural effusion.", 10);
 * ```
 */
export async function openLocalSearch(base: string): Promise<LocalSearch> {
  const get = async (path: string) => {
    const response = await fetch(base + path);
    if (!response.ok) throw new Error(`${base}${path}: the server answered ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  };
  const kernels: Record<string, string> = JSON.parse(
    new TextDecoder().decode(await get("kernels")),
  );
  const gpu = await GpuContext.create({
    kernels: (file) => {
      const code = kernels[file];
      if (code === undefined) throw new Error(`kernel ${file}: not among ${base}kernels`);
      return code;
    },
  });
  const index = decodeLocalIndex(await get("index"), `${base}index`);
  const projector = new Projector(gpu, index.head, index.params, index.inputNorm);
  const { rows } = index;
  const imageIds = Array.from(rows.imageStudy, (s) => rows.ids[s]);
  const reports = await Retriever.fromProjections(projector, "text", index.text, [...rows.ids]);
  const pictures = await Retriever.fromProjections(projector, "image", index.image, imageIds);
  ort.env.wasm.wasmPaths = new URL(`${base}ort/`, location.href).href;
  // One thread: the page is not cross-origin isolated, so WASM threads are not available.
  const runtime = { runtime: "wasm", numThreads: 1 } as const;
  const { contextLength, vocabSize } = index.encoders;
  const image = await ImageEncoder.create(await get("models/image.onnx"), runtime);
  const text = await TextEncoder.create(await get("models/text.onnx"), {
    ...runtime,
    contextLength,
    vocabSize,
  });
  const vocab = new TextDecoder().decode(await get("models/vocab.txt"));
  const tokenizer = new WordPieceTokenizer(parseVocab(vocab), `${base}models/vocab.txt`);
  const info = { adapter: gpu.info.name, studies: reports.size, images: pictures.size };
  return new LocalSearch({ projector, reports, pictures, rows }, { image, text, tokenizer }, info);
}

/** The towers and the tokenizer, in the page. */
interface LocalEncoders {
  image: ImageEncoder;
  text: TextEncoder;
  tokenizer: WordPieceTokenizer;
}

/**
 * A collection searched in the browser ({@link openLocalSearch} opens one); answers as the
 * server's `CollectionSearch` does, hits described with the images' URLs.
 * @example
 * ```ts ignore
 * const search = await openLocalSearch("/local/");
 * const bytes = new Uint8Array(await file.arrayBuffer()); // a chosen X-ray, read in the page
 * const { abnormal, hits } = await search.searchByImage(bytes, 10, file.name);
 * ```
 */
export class LocalSearch {
  /** What was opened. */
  readonly info: LocalSearchInfo;
  readonly #collection: ProjectedCollection;
  readonly #encoders: LocalEncoders;

  /** Use {@link openLocalSearch}. */
  constructor(collection: ProjectedCollection, encoders: LocalEncoders, info: LocalSearchInfo) {
    this.#collection = collection;
    this.#encoders = encoders;
    this.info = info;
  }

  /**
   * The `k` reports most similar to an X-ray's PNG or JPEG bytes, checked and preprocessed
   * exactly as the server does (the same code). Throws {@link SearchInputError} for bytes that
   * are not a decodable PNG or JPEG, or a bad k.
   */
  async searchByImage(
    bytes: Uint8Array,
    k: number,
    name = "the query image",
  ): Promise<SearchResult> {
    const { image } = this.#encoders;
    const problem = uploadProblem(bytes, name);
    if (problem) throw new SearchInputError(problem.message);
    let pixels: Float32Array;
    try {
      pixels = preprocessImage(bytes, { size: image.imageSize, name });
    } catch (e) {
      throw new SearchInputError((e as Error).message);
    }
    return await answerQuery(this.#collection, "image", await image.encode(pixels), k);
  }

  /** The `k` images most similar to a report; {@link SearchInputError} for an empty one. */
  async searchByText(report: string, k: number): Promise<SearchResult> {
    const { text, tokenizer } = this.#encoders;
    const problem = reportProblem(tokenizer, report);
    if (problem !== null) throw new SearchInputError(`the report: ${problem}`);
    const { ids, mask } = tokenizer.encodeBatch([report], text.contextLength);
    return await answerQuery(this.#collection, "text", await text.encode(ids, mask), k);
  }
}
