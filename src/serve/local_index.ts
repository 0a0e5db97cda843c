/**
 * What the page's private search downloads to answer queries itself: the trained heads (flat
 * parameters, input standardization), the collection's projections of both modalities and the
 * rows that describe hits, with image files replaced by the URLs the app serves them at. One
 * safetensors document; {@link encodeLocalIndex} writes it on the server, {@link decodeLocalIndex}
 * reads it in the page.
 *
 * @module
 */

import { asF32, decodeSafetensors, encodeSafetensors, tensor } from "../io/safetensors.ts";
import type { HeadConfig } from "../model/config.ts";
import type { InputNorm } from "../model/input_norm.ts";
import type { CollectionRows, ProjectedCollection } from "../retrieval/answer.ts";

/** `__metadata__.format` of the document. */
export const LOCAL_INDEX_FORMAT = "cxr-local-index/1";

/** The tokenizer and tower sizes the page needs besides the ONNX files. */
export interface LocalEncoders {
  /** Tokens per report row. */
  contextLength: number;
  /** Vocabulary size the text tower takes. */
  vocabSize: number;
}

/** A decoded local index. */
export interface LocalIndex {
  /** Head configuration. */
  head: HeadConfig;
  /** Flat parameters of both heads (our layout). */
  params: Float32Array<ArrayBuffer>;
  /** Standardization of the frozen embeddings. */
  inputNorm: InputNorm;
  /** Report projections [studies, outDim]. */
  text: Float32Array<ArrayBuffer>;
  /** Image-row projections [image rows, outDim]. */
  image: Float32Array<ArrayBuffer>;
  /** The collection's rows; image paths are the URLs of the images. */
  rows: CollectionRows;
  /** What the encoders need. */
  encoders: LocalEncoders;
}

/**
 * The local index of a projected collection, reading its projections and heads back from the
 * GPU; `url` gives each image file's URL (null: not served, left out).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { trainDemoCollection } from "../retrieval/demo_collection.ts";
 * import { openSearch } from "../retrieval/search.ts";
 * if (await tryGetGpu()) {
 *   const demo = await trainDemoCollection();
 *   await using search = await openSearch(demo);
 *   const encoders = { contextLength: 256, vocabSize: 230 };
 *   const bytes = await encodeLocalIndex(search.projected, encoders, (path) => `/file/${path}`);
 *   decodeLocalIndex(bytes, "index").rows.ids.length; // 24
 *   await demo.remove();
 * }
 * ```
 */
export async function encodeLocalIndex(
  c: ProjectedCollection,
  encoders: LocalEncoders,
  url: (path: string) => string | null,
): Promise<Uint8Array<ArrayBuffer>> {
  const { projector, reports, pictures, rows } = c;
  const { head, inputNorm } = projector;
  const [params, text, image] = [
    await projector.gpu.read(projector.params),
    await reports.projections(),
    await pictures.projections(),
  ];
  const page: CollectionRows = {
    ids: rows.ids,
    label: Array.from(rows.label),
    splits: rows.splits,
    studies: rows.studies?.map((s) => ({
      patientId: s.patientId,
      findings: s.findings,
      report: s.report,
      imagePaths: s.imagePaths.map(url).filter((u) => u !== null),
    })),
    imageStudy: Array.from(rows.imageStudy),
    imagePaths: rows.imagePaths.map((p) => p === null ? null : url(p)),
  };
  const tensors = new Map([
    ["params", tensor(params, [params.length])],
    ["input_norm.image_mean", tensor(inputNorm.image.mean, [head.inDim])],
    ["input_norm.image_std", tensor(inputNorm.image.std, [head.inDim])],
    ["input_norm.text_mean", tensor(inputNorm.text.mean, [head.inDim])],
    ["input_norm.text_std", tensor(inputNorm.text.std, [head.inDim])],
    ["text", tensor(text, [reports.size, head.outDim])],
    ["image", tensor(image, [pictures.size, head.outDim])],
  ]);
  return encodeSafetensors(tensors, {
    format: LOCAL_INDEX_FORMAT,
    head: JSON.stringify(head),
    rows: JSON.stringify(page),
    encoders: JSON.stringify(encoders),
  });
}

/**
 * Reads a document {@link encodeLocalIndex} wrote; errors name `source` and the missing field.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.throws(() => decodeLocalIndex(new Uint8Array(4), "/local/index"), /not a safetensors/);
 * ```
 */
export function decodeLocalIndex(bytes: Uint8Array, source: string): LocalIndex {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== LOCAL_INDEX_FORMAT) {
    throw new Error(
      `${source}: __metadata__.format is "${metadata.format}", expected "${LOCAL_INDEX_FORMAT}"`,
    );
  }
  const values = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${source}: missing tensor "${name}"`);
    return asF32(t, name, source);
  };
  const json = (key: string) => {
    if (metadata[key] === undefined) throw new Error(`${source}: __metadata__.${key} is missing`);
    return JSON.parse(metadata[key]);
  };
  const norm = (tower: "image" | "text") => ({
    mean: values(`input_norm.${tower}_mean`),
    std: values(`input_norm.${tower}_std`),
  });
  return {
    head: json("head"),
    params: values("params"),
    inputNorm: { image: norm("image"), text: norm("text") },
    text: values("text"),
    image: values("image"),
    rows: json("rows"),
    encoders: json("encoders"),
  };
}
