/**
 * A Retriever holds the projected embeddings of a collection (reports, or images) on the GPU and
 * answers queries of the other modality with the top-k most similar items.
 *
 * @module
 */

import type { GpuView } from "../gpu/kernel.ts";
import type { Tower } from "../model/head_graph.ts";
import { similarityForward } from "../ops/similarity.ts";
import { TOP_K_MAX, topK } from "../ops/retrieval.ts";
import type { Projector } from "../model/projector.ts";

/** One retrieved item. */
export interface Hit {
  /** The item's id. */
  id: string;
  /** Its row in the collection. */
  index: number;
  /**
   * Cosine similarity to the query in the projected space. A non-finite one (NaN, ±Infinity: a
   * broken embedding) is reported as is and ranks after every finite one.
   */
  score: number;
}

/** Options of {@link Retriever.create}. */
export interface RetrieverOptions {
  /**
   * Most queries {@link Retriever.queryBatch} scores per submit (default: as many as the device's
   * limits allow, see {@link queriesPerChunk}); lower it to bound the GPU memory a batch takes.
   */
  maxQueriesPerChunk?: number;
}

/** The device limits that bound a chunk of queries. */
export type ChunkLimits = Pick<
  GPUSupportedLimits,
  "maxStorageBufferBindingSize" | "maxBufferSize" | "maxComputeWorkgroupsPerDimension"
>;

/**
 * Most queries one submit can score against `items` candidates: each query row of every buffer
 * (its `inDim` embedding, `outDim` projection, `items` scores; top-k's scratch and results are
 * no wider) must fit one storage binding and one buffer, and the widest grid (one invocation per
 * 4 scores, laid out in 2-D) must fit `maxComputeWorkgroupsPerDimension²` workgroups. Throws when
 * not even one query fits.
 * @example
 * ```ts
 * const limits = {
 *   maxStorageBufferBindingSize: 2 ** 20,
 *   maxBufferSize: 2 ** 28,
 *   maxComputeWorkgroupsPerDimension: 65_535,
 * };
 * queriesPerChunk(limits, 1000, { inDim: 512, outDim: 256 }); // 262 (1000 scores a row)
 * ```
 */
export function queriesPerChunk(
  limits: ChunkLimits,
  items: number,
  dims: { inDim: number; outDim: number },
): number {
  const bytes = bindableBytes(limits), widest = Math.max(dims.inDim, dims.outDim, items);
  const byBytes = Math.floor(bytes / (4 * widest));
  if (byBytes < 1) {
    throw new RangeError(
      `retriever: one query needs ${4 * widest} bytes per buffer (${items} items, inDim ` +
        `${dims.inDim}, outDim ${dims.outDim}); the device binds at most ${bytes}`,
    );
  }
  const side = limits.maxComputeWorkgroupsPerDimension, quads = Math.ceil(items / 4);
  const byGrid = Math.floor(side ** 2 / quads);
  if (byGrid < 1) {
    throw new RangeError(
      `retriever: one query's ${items} scores need up to ${quads} workgroups, more than ${side}²`,
    );
  }
  return Math.min(byBytes, byGrid);
}

/**
 * Checks that a collection of `n` items fits the device and the options; returns the query chunk.
 */
function checkCollection(
  method: string,
  projector: Projector,
  n: number,
  options: RetrieverOptions,
): number {
  const { head, gpu } = projector;
  if (n === 0) throw new RangeError(`${method}: the collection is empty (no ids)`);
  const bytes = bindableBytes(gpu.limits), need = 4 * n * Math.max(head.inDim, head.outDim);
  if (need > bytes) {
    throw new RangeError(
      `${method}: ${n} items need ${need} bytes in one buffer (inDim ${head.inDim}), ` +
        `the device binds at most ${bytes}; split the collection`,
    );
  }
  const most = options.maxQueriesPerChunk;
  if (most !== undefined && !(Number.isInteger(most) && most >= 1)) {
    throw new RangeError(`${method}: maxQueriesPerChunk must be an integer >= 1, got ${most}`);
  }
  return Math.min(most ?? Infinity, queriesPerChunk(gpu.limits, n, head));
}

/** The largest buffer a kernel can bind, in bytes. */
function bindableBytes(limits: ChunkLimits): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

/**
 * Top-k retrieval over a collection of one modality. It owns the collection's projections on the
 * GPU until {@link Retriever.dispose} (or the end of a `using` block); the projector stays the
 * caller's.
 * @example
 * ```ts
 * import { initialParameters } from "../model/init.ts";
 * import { ParameterLayout } from "../model/parameters.ts";
 * import { Projector } from "../model/projector.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   // An untrained projector; `await Projector.load(checkpointPath)` gives a trained one.
 *   const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
 *   const identity = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) };
 *   const params = initialParameters(new ParameterLayout(head), 42);
 *   const projector = new Projector(gpu, head, params, { image: identity, text: identity });
 *   const reportEmbeddings = new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]); // 3 reports
 *   const ids = ["r1", "r2", "r3"];
 *   using reports = await Retriever.create(projector, "text", reportEmbeddings, ids);
 *   const hits = await reports.query(new Float32Array([1, 0, 0, 0]), 2); // an image's 2 reports
 *   // [{ id, index, score }, { id, index, score }], best first
 * }
 * ```
 */
export class Retriever {
  readonly #projector: Projector;
  readonly #tower: Tower;
  readonly #ids: string[];
  readonly #chunk: number;
  #z: GpuView | null;

  private constructor(
    projector: Projector,
    tower: Tower,
    z: GpuView,
    ids: string[],
    chunk: number,
  ) {
    this.#projector = projector;
    this.#tower = tower;
    this.#z = z;
    this.#ids = ids;
    this.#chunk = chunk;
  }

  /**
   * Projects and uploads a collection: `embeddings` [ids.length, inDim] of modality `tower`.
   * @example
   * ```ts
   * import { initialParameters } from "../model/init.ts";
   * import { ParameterLayout } from "../model/parameters.ts";
   * import { Projector } from "../model/projector.ts";
   * import { tryGetGpu } from "../gpu/context.ts";
   * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
   * if (gpu) {
   *   const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
   *   const identity = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) };
   *   const params = initialParameters(new ParameterLayout(head), 42);
   *   const projector = new Projector(gpu, head, params, { image: identity, text: identity });
   *   const imageEmbeddings = new Float32Array([1, 0, 0, 0, 0, 1, 0, 0]); // 2 images
   *   const options = { maxQueriesPerChunk: 64 }; // bounds the GPU memory of a query batch
   *   const ids = ["i1", "i2"];
   *   using images = await Retriever.create(projector, "image", imageEmbeddings, ids, options);
   *   images.size; // 2
   *   images.queriesPerChunk; // 64
   * }
   * ```
   */
  static async create(
    projector: Projector,
    tower: Tower,
    embeddings: Float32Array<ArrayBuffer>,
    ids: string[],
    options: RetrieverOptions = {},
  ): Promise<Retriever> {
    const chunk = checkCollection("Retriever.create", projector, ids.length, options);
    const z = await projector.projectToGpu(tower, embeddings, ids.length);
    return new Retriever(projector, tower, z, ids, chunk);
  }

  /**
   * Uploads a collection already projected by `projector`'s `tower` head: `projections`
   * [ids.length, outDim], unit rows (what {@link Projector.project} returns; a cached index).
   * @example
   * ```ts
   * import { initialParameters } from "../model/init.ts";
   * import { ParameterLayout } from "../model/parameters.ts";
   * import { Projector } from "../model/projector.ts";
   * import { tryGetGpu } from "../gpu/context.ts";
   * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
   * if (gpu) {
   *   const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
   *   const identity = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) };
   *   const params = initialParameters(new ParameterLayout(head), 42);
   *   const projector = new Projector(gpu, head, params, { image: identity, text: identity });
   *   const reports = new Float32Array([1, 0, 0, 0, 0, 1, 0, 0]); // 2 report embeddings
   *   const z = await projector.project("text", reports, 2); // computed once, stored anywhere
   *   using index = await Retriever.fromProjections(projector, "text", z, ["r1", "r2"]);
   *   const hits = await index.query(new Float32Array([1, 0, 0, 0]), 1); // the same hits as create's
   * }
   * ```
   */
  static fromProjections(
    projector: Projector,
    tower: Tower,
    projections: Float32Array,
    ids: string[],
    options: RetrieverOptions = {},
  ): Promise<Retriever> {
    const chunk = checkCollection("Retriever.fromProjections", projector, ids.length, options);
    const outDim = projector.head.outDim;
    if (projections.length !== ids.length * outDim) {
      throw new RangeError(
        `Retriever.fromProjections: projections must be [${ids.length}, outDim = ${outDim}], ` +
          `got ${projections.length} values`,
      );
    }
    // Uploaded as they are; only a view of a SharedArrayBuffer is copied first.
    const host = projections.buffer instanceof ArrayBuffer
      ? projections as Float32Array<ArrayBuffer>
      : Float32Array.from(projections);
    const z = projector.gpu.storage(host, `${tower} projections`);
    return Promise.resolve(new Retriever(projector, tower, z, ids, chunk));
  }

  /** Number of items. */
  get size(): number {
    return this.#ids.length;
  }

  /** Most queries scored per submit (the option, or what the device's limits allow). */
  get queriesPerChunk(): number {
    return this.#chunk;
  }

  /**
   * The `k` best items for each of `count` queries (frozen embeddings [count, inDim] of the OTHER
   * modality), best first; equal scores by lower index, non-finite scores (items with broken
   * embeddings) last. Throws on a non-finite query value. Large batches run in chunks of
   * {@link queriesPerChunk} queries.
   * @example
   * ```ts
   * import { initialParameters } from "../model/init.ts";
   * import { ParameterLayout } from "../model/parameters.ts";
   * import { Projector } from "../model/projector.ts";
   * import { tryGetGpu } from "../gpu/context.ts";
   * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
   * if (gpu) {
   *   const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
   *   const identity = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) };
   *   const params = initialParameters(new ParameterLayout(head), 42);
   *   const projector = new Projector(gpu, head, params, { image: identity, text: identity });
   *   const reportEmbeddings = new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]); // 3 reports
   *   const ids = ["r1", "r2", "r3"];
   *   using reports = await Retriever.create(projector, "text", reportEmbeddings, ids);
   *   const imageEmbeddings = new Float32Array([1, 0, 0, 0, 0, 0, 1, 0]); // 2 images
   *   const hits = await reports.queryBatch(imageEmbeddings, 2, 3); // 2 lists of 3, best first
   *   hits.map((list) => list.length); // [3, 3]
   * }
   * ```
   */
  async queryBatch(queries: Float32Array<ArrayBuffer>, count: number, k: number): Promise<Hit[][]> {
    this.#live("queryBatch");
    const p = this.#projector, gpu = p.gpu, n = this.size, inDim = p.head.inDim;
    const most = Math.min(n, TOP_K_MAX);
    if (!(Number.isInteger(k) && k >= 1 && k <= most)) {
      throw new RangeError(`Retriever.queryBatch: k must be an integer in 1..${most}, got ${k}`);
    }
    if (!(Number.isInteger(count) && count >= 0) || queries.length !== count * inDim) {
      throw new RangeError(
        `Retriever.queryBatch: queries must be [count = ${count}, inDim = ${inDim}], got ` +
          `${queries.length} values`,
      );
    }
    // Every score of a broken query would be NaN, and its list item 0, 1, …: refuse it instead.
    const bad = queries.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new RangeError(
        `Retriever.queryBatch: query ${Math.floor(bad / inDim)} has a non-finite value ` +
          `(${queries[bad]}) at column ${bad % inDim}`,
      );
    }
    if (count === 0) return [];
    const scale = Math.min(Math.exp((await gpu.read(p.logitScale))[0]), 100);
    const hits: Hit[][] = [];
    for (let start = 0; start < count; start += this.#chunk) {
      const rows = Math.min(this.#chunk, count - start);
      const part = queries.subarray(start * inDim, (start + rows) * inDim);
      hits.push(...await this.#queryChunk(part, rows, k, scale));
    }
    return hits;
  }

  /**
   * The `k` best items for one query embedding [inDim] of the other modality.
   * @example
   * ```ts
   * import { initialParameters } from "../model/init.ts";
   * import { ParameterLayout } from "../model/parameters.ts";
   * import { Projector } from "../model/projector.ts";
   * import { tryGetGpu } from "../gpu/context.ts";
   * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
   * if (gpu) {
   *   const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
   *   const identity = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) };
   *   const params = initialParameters(new ParameterLayout(head), 42);
   *   const projector = new Projector(gpu, head, params, { image: identity, text: identity });
   *   const reportEmbeddings = new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]); // 3 reports
   *   const ids = ["r1", "r2", "r3"];
   *   using reports = await Retriever.create(projector, "text", reportEmbeddings, ids);
   *   const hits = await reports.query(new Float32Array([1, 0, 0, 0]), 2); // one image's 2 reports
   *   hits.length; // 2, best first
   * }
   * ```
   */
  async query(embedding: Float32Array<ArrayBuffer>, k: number): Promise<Hit[]> {
    return (await this.queryBatch(embedding, 1, k))[0];
  }

  /**
   * Frees the collection's GPU buffer; later queries throw. Calling it again does nothing.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { initialParameters } from "../model/init.ts";
   * import { ParameterLayout } from "../model/parameters.ts";
   * import { Projector } from "../model/projector.ts";
   * import { tryGetGpu } from "../gpu/context.ts";
   * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
   * if (gpu) {
   *   const head = { inDim: 4, hidden: 8, outDim: 4, layers: 2, dropout: 0 };
   *   const identity = { mean: new Float32Array(4), std: new Float32Array(4).fill(1) };
   *   const params = initialParameters(new ParameterLayout(head), 42);
   *   const projector = new Projector(gpu, head, params, { image: identity, text: identity });
   *   const reports = await Retriever.create(projector, "text", new Float32Array(4), ["r1"]);
   *   reports.dispose(); // frees its GPU buffer
   *   reports.dispose(); // does nothing
   *   await assert.rejects(reports.query(new Float32Array(4), 1), /this Retriever was disposed/);
   * }
   * ```
   */
  dispose(): void {
    this.#z?.buffer.destroy();
    this.#z = null;
  }

  /** {@link Retriever.dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Scores `rows` queries against the collection in one submit; `scale` undoes the logit scale. */
  async #queryChunk(
    queries: Float32Array<ArrayBuffer>,
    rows: number,
    k: number,
    scale: number,
  ): Promise<Hit[][]> {
    const p = this.#projector, gpu = p.gpu, n = this.size;
    const other: Tower = this.#tower === "image" ? "text" : "image";
    const q = await p.projectToGpu(other, queries, rows);
    const index = gpu.storage(rows * k, "top-k index"),
      score = gpu.storage(rows * k, "top-k score");
    try {
      // Checked again here: dispose() may have run while the projection was awaited.
      await gpu.runOnce(() => {
        const z = this.#live("queryBatch"), scores = gpu.storage(rows * n, "retrieval scores");
        const shape = { rows, cols: n, dim: p.head.outDim };
        return [
          ...similarityForward(gpu, q, z, p.logitScale, scores, shape),
          ...topK(gpu, scores, index, score, { rows, cols: n, k }),
        ];
      });
      const [ib, sb] = await gpu.readBytes([index, score]);
      const idx = new Uint32Array(ib), sc = new Float32Array(sb);
      return Array.from({ length: rows }, (_, r) =>
        Array.from({ length: k }, (_, j) => {
          const i = idx[r * k + j];
          return { id: this.#ids[i], index: i, score: sc[r * k + j] / scale };
        }));
    } finally {
      for (const b of [q, index, score]) b.buffer.destroy();
    }
  }

  /** The collection's projections, or a clear error once disposed. */
  #live(method: string): GpuView {
    if (!this.#z) {
      throw new Error(
        `Retriever.${method}: this Retriever was disposed (its GPU buffers are freed); ` +
          `create a new one with Retriever.create`,
      );
    }
    return this.#z;
  }
}
