/**
 * An image file as the image tower's input: read, decoded and preprocessed, with every failure of
 * the file itself (unreadable, empty, truncated, not an image) a {@link BadItemError} that the
 * embedding run skips. Used in this thread and in the preprocessing workers.
 *
 * @module
 */

import { BadItemError } from "./embedding_cache.ts";
import { preprocessImage } from "./preprocess_image.ts";

/**
 * Reads an image file; a file that cannot be read is a bad item.
 * @example
 * ```ts
 * const bytes = await readImageFile("tests/fixtures/images/gray8.png");
 * ```
 */
export async function readImageFile(path: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new BadItemError(`cannot read image (${(e as Error).message})`);
  }
}

/**
 * Reads and preprocesses an image for a tower of input `size`; an undecodable file is a bad item.
 * The reason leaves the file name out: every file with these bytes shares it.
 * @example
 * ```ts
 * const pixels = await loadImageFile("tests/fixtures/images/gray8.png", 224);
 * pixels.length; // 3 * 224 * 224
 * ```
 */
export async function loadImageFile(path: string, size: number): Promise<Float32Array> {
  const bytes = await readImageFile(path);
  try {
    return preprocessImage(bytes, { size, name: path });
  } catch (e) {
    const message = (e as Error).message;
    throw new BadItemError(
      message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message,
    );
  }
}
