/**
 * Image decoding and preprocessing on worker threads, so that it overlaps inference: the
 * embedding run asks for the next batch's pixels while the encoder runs the current one (native
 * onnxruntime runs a batch synchronously on the calling thread, so decoding there would wait).
 *
 * @module
 */

import { BadItemError } from "./embedding_cache.ts";

/**
 * The Web Worker constructor, kept when this module loads: onnxruntime-web's WASM loader, once
 * started, replaces the global `Worker` with `node:worker_threads`' for its pthreads.
 */
const WebWorker = globalThis.Worker;

interface Pending {
  resolve: (pixels: Float32Array) => void;
  reject: (e: Error) => void;
}

/**
 * Workers that read and preprocess image files ({@link loadImageFile}); a bad file rejects with a
 * {@link BadItemError}, as in this thread.
 * @example
 * ```ts
 * const pool = new PreprocessPool(2);
 * const pixels = await pool.load("tests/fixtures/images/gray8.png", 224); // 3·224·224 values
 * pool.close();
 * ```
 */
export class PreprocessPool {
  readonly #workers: { worker: Worker; pending: Map<number, Pending> }[];
  #next = 0;

  /** Starts `workers` threads (at least 1). */
  constructor(workers: number) {
    if (!Number.isInteger(workers) || workers < 1) {
      throw new Error(`PreprocessPool: workers must be a positive integer, got ${workers}`);
    }
    const url = new URL("./preprocess_worker.ts", import.meta.url);
    this.#workers = Array.from({ length: workers }, () => {
      const slot = { worker: new WebWorker(url, { type: "module" }), pending: new Map() };
      slot.worker.onmessage = (e) => {
        const { id, pixels, bad, error } = e.data;
        const p = slot.pending.get(id)!;
        slot.pending.delete(id);
        if (pixels) p.resolve(pixels);
        else if (bad !== undefined) p.reject(new BadItemError(bad));
        else p.reject(new Error(`preprocessing worker: ${error}`));
      };
      slot.worker.onerror = (e) => {
        e.preventDefault();
        for (const p of slot.pending.values()) {
          p.reject(new Error(`preprocessing worker: ${e.message}`));
        }
        slot.pending.clear();
      };
      return slot;
    });
  }

  /** The preprocessed pixels of the image file at `path`, for a tower of input `size`. */
  load(path: string, size: number): Promise<Float32Array> {
    const slot = this.#workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, path, size });
    });
  }

  /** Stops the workers. */
  close(): void {
    for (const { worker } of this.#workers) worker.terminate();
  }
}
