/**
 * The frozen encoders of an imported weights folder, opened together ({@link openBiomedClip});
 * the towers themselves are in `towers.ts`.
 *
 * @module
 */

import { join } from "node:path";
import { readManifest, type WeightsManifest } from "./manifest.ts";
import { ImageEncoder, TextEncoder } from "./towers.ts";
import type { EncoderOptions } from "./towers.ts";

export { ImageEncoder, TextEncoder } from "./towers.ts";
export type { EncoderOptions, TokenArray } from "./towers.ts";

/** Both encoders of an imported weights folder, with its manifest. */
export interface BiomedClipEncoders {
  /** Image tower. */
  image: ImageEncoder;
  /** Text tower. */
  text: TextEncoder;
  /** The folder's manifest (config, logit scale, vocabulary path). */
  manifest: WeightsManifest;
  /** Path of the tokenizer vocabulary. */
  vocabPath: string;
}

/**
 * Opens both towers of a weights folder written by `deno task weights import`, after checking
 * the files' SHA-256 against the manifest (`verify`, default true) and the models against the
 * manifest's config.
 * @example
 * ```ts
 * const { image, text, manifest } = await openBiomedClip("weights/demo", { numThreads: 2 });
 * manifest.config.embedDim; // 128
 * await image.release();
 * await text.release();
 * ```
 */
export async function openBiomedClip(
  dir: string,
  opts: EncoderOptions & { verify?: boolean } = {},
): Promise<BiomedClipEncoders> {
  const manifest = await readManifest(dir, { verify: opts.verify ?? true });
  const c = manifest.config;
  const image = await ImageEncoder.create(join(dir, manifest.files.image.path), opts);
  const text = await TextEncoder.create(join(dir, manifest.files.text.path), {
    ...opts,
    contextLength: c.text.contextLength,
    vocabSize: c.text.vocabSize,
  });
  const got = [image.imageSize, image.embedDim, text.contextLength, text.embedDim];
  const want = [c.vision.imageSize, c.embedDim, c.text.contextLength, c.embedDim];
  if (got.some((g, i) => g !== want[i])) {
    throw new Error(
      `${dir}: models (image ${got[0]}px → ${got[1]}, text ${got[2]} tokens → ${got[3]}) do not ` +
        `match the manifest's config (image ${want[0]}px → ${want[1]}, text ${want[2]} → ${
          want[3]
        })`,
    );
  }
  return { image, text, manifest, vocabPath: join(dir, manifest.files.vocab.path) };
}
