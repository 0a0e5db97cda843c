/**
 * Worker thread of {@link PreprocessPool}: receives `{ id, path, size }`, reads and preprocesses
 * the image, and answers `{ id, pixels }` (the buffer transferred), `{ id, bad }` for a bad file
 * or `{ id, error }` for anything else.
 *
 * @module
 */

import { BadItemError } from "./embedding_cache.ts";
import { loadImageFile } from "./image_file.ts";

/** The worker's global scope, as much of it as is used here. */
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<{ id: number; path: string; size: number }>) => void) | null;
  postMessage(
    message: { id: number; pixels?: Float32Array; bad?: string; error?: string },
    transfer?: Transferable[],
  ): void;
};

scope.onmessage = async (e) => {
  const { id, path, size } = e.data;
  try {
    const pixels = await loadImageFile(path, size);
    scope.postMessage({ id, pixels }, [pixels.buffer as ArrayBuffer]);
  } catch (err) {
    if (err instanceof BadItemError) scope.postMessage({ id, bad: err.message });
    else scope.postMessage({ id, error: String((err as Error)?.stack ?? err) });
  }
};
