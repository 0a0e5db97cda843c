/**
 * Encoder ids: what names a frozen tower's embeddings, so embeddings from different weights (or
 * different preprocessing) never mix. An id is derived from the weights manifest: the tower's
 * SHA-256 and what shapes its input (image size and preprocessing version; vocabulary and
 * context length). Embeddings files record them in `__metadata__.image_encoder` and
 * `__metadata__.text_encoder`; the embedding cache keys its folders by them.
 *
 * @module
 */

import type { WeightsManifest } from "./manifest.ts";

/** Version of our image preprocessing; part of the image encoder's id. */
export const PREPROCESS_VERSION = "open_clip-bicubic-v1";

/** The ids of a weights folder's two towers. */
export interface EncoderIds {
  /** Image tower, e.g. `image-a7d1cb826b1dc7ee-open_clip-bicubic-v1-224`. */
  image: string;
  /** Text tower, e.g. `text-fcc455e03277693c-f04cb37b-256`. */
  text: string;
}

/**
 * The encoder ids of the towers a manifest describes.
 * @example
 * ```ts
 * import { readManifest } from "./manifest.ts";
 * const { image, text } = encoderIds(await readManifest("weights/demo"));
 * // image "image-a7d1cb826b1dc7ee-open_clip-bicubic-v1-224"
 * // text "text-fcc455e03277693c-f04cb37b-256"
 * ```
 */
export function encoderIds(manifest: WeightsManifest): EncoderIds {
  const { files, config } = manifest;
  return {
    image: `image-${
      files.image.sha256.slice(0, 16)
    }-${PREPROCESS_VERSION}-${config.vision.imageSize}`,
    text: `text-${files.text.sha256.slice(0, 16)}-${
      files.vocab.sha256.slice(0, 8)
    }-${config.text.contextLength}`,
  };
}

/**
 * Throws, naming both ids, when an embeddings file (its `__metadata__`) was embedded by other
 * towers than `expected`'s. A file that records no encoder id cannot be checked: it is accepted
 * (the embeddings format does not require the ids) and the returned warning says so; otherwise
 * returns null.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readManifest } from "./manifest.ts";
 * const ids = encoderIds(await readManifest("weights/demo"));
 * const metadata = { image_encoder: ids.image, text_encoder: ids.text }; // as `embed` writes it
 * checkEncoders(metadata, ids, "c.safetensors", "weights/demo"); // null: the same towers
 * checkEncoders({}, ids, "old.safetensors", "weights/demo"); // a warning: no ids recorded
 * const other = { ...metadata, text_encoder: "text-0123456789abcdef-f04cb37b-256" };
 * assert.throws(() => checkEncoders(other, ids, "c.safetensors", "weights/demo"), /text encoder/);
 * ```
 */
export function checkEncoders(
  metadata: Record<string, string>,
  expected: EncoderIds,
  collection: string,
  weights: string,
): string | null {
  const unrecorded: string[] = [];
  for (const tower of ["image", "text"] as const) {
    const key = `${tower}_encoder`, found = metadata[key];
    if (found === undefined) {
      unrecorded.push(`__metadata__.${key}`);
    } else if (found !== expected[tower]) {
      throw new Error(
        `${collection} was embedded by ${tower} encoder ${found}, but ${weights} holds ${tower} ` +
          `encoder ${expected[tower]}; query with the weights the collection was embedded with ` +
          `(--weights) or embed the collection again with these`,
      );
    }
  }
  return unrecorded.length === 0 ? null : `warning: ${collection} records no encoder id ` +
    `(${unrecorded.join(", ")}), so it cannot be checked against ${weights}; ` +
    `the results are meaningless unless it was embedded with these weights`;
}
