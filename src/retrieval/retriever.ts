/**
 * A Retriever holds the projected embeddings of a collection (reports, or images) on the GPU and
 * answers queries of the other modality with the top-k most similar items.
 *
 * @module
 */

import type { Command } from "../gpu/context.ts";
import type { GpuView } from "../gpu/kernel.ts";
import { allocateHeadActivations, headForward, type Tower } from "../model/head_graph.ts";
import { standardize } from "../model/input_norm.ts";
import { similarityForward } from "../ops/similarity.ts";
import { TOP_K_MAX, topK } from "../ops/retrieval.ts";
import type { Projector } from "../model/projector.ts";
import { checkQueries } from "./search_index.ts";

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
  /**
   * Most items one similarity pass scores (default: as many projections as one storage binding
   * holds, a multiple of 64). A larger collection is scored in shards whose top-k lists are merged
   * on the GPU; lower it to bound the score buffer of a query.
   */
  maxItemsPerShard?: number;
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

/** How a collection is scored: queries per submit and items per similarity pass. */
interface Plan {
  chunk: number;
  shardRows: number;
}

/**
 * Checks that a collection of `n` items fits the device and the options: its projections (and
 * its `inDim` embeddings, when `projects`) in one buffer, each shard of them in one binding.
 */
function planCollection(
  method: string,
  projector: Projector,
  n: number,
  options: RetrieverOptions,
  projects: boolean,
): Plan {
  const { head, gpu } = projector;
  if (n === 0) throw new RangeError(`${method}: the collection is empty (no ids)`);
  const width = projects ? Math.max(head.inDim, head.outDim) : head.outDim;
  const need = 4 * n * width, most = gpu.limits.maxBufferSize;
  if (need > most) {
    throw new RangeError(
      `${method}: ${n} items need ${need} bytes in one buffer (${width} floats each), the ` +
        `device allows ${most}; split the collection`,
    );
  }
  for (const key of ["maxQueriesPerChunk", "maxItemsPerShard"] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
      throw new RangeError(`${method}: ${key} must be an integer >= 1, got ${v}`);
    }
  }
  // Shards start at multiples of 64 rows: 256-byte aligned binding offsets for any outDim.
  const fit = Math.floor(bindableBytes(gpu.limits) / (4 * head.outDim) / 64) * 64;
  const wanted = options.maxItemsPerShard ?? Infinity;
  const shardRows = Math.min(n, Math.max(64, Math.floor(Math.min(fit, wanted) / 64) * 64));
  const chunk = Math.min(
    options.maxQueriesPerChunk ?? Infinity,
    queriesPerChunk(gpu.limits, shardRows, { ...head, inDim: Math.max(head.inDim, head.hidden) }),
  );
  return { chunk, shardRows };
}

/** The factor the similarity kernel applies, exp(logit_scale) capped at 100 as in training. */
async function logitScale(projector: Projector): Promise<number> {
  return Math.min(Math.exp((await projector.gpu.read(projector.logitScale))[0]), 100);
}

/** The largest buffer a kernel can bind, in bytes. */
function bindableBytes(limits: ChunkLimits): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

/**
 * Top-k retrieval over a collection of one modality. It owns the collection's projections on the
 * GPU until {@link Retriever.dispose} (or the end of a `using` block); the projector stays the
 * caller's (its logit scale is read once, when the Retriever is made). A collection larger than
 * one storage binding is scored in shards whose top-k lists merge on the GPU.
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
  readonly #shardRows: number;
  /** The logit scale the similarity multiplies by, read once: scores are divided by it. */
  readonly #scale: number;
  #z: GpuView | null;

  private constructor(
    projector: Projector,
    tower: Tower,
    z: GpuView,
    ids: string[],
    plan: Plan & { scale: number },
  ) {
    this.#projector = projector;
    this.#tower = tower;
    this.#z = z;
    this.#ids = ids;
    this.#chunk = plan.chunk;
    this.#shardRows = plan.shardRows;
    this.#scale = plan.scale;
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
    const plan = planCollection("Retriever.create", projector, ids.length, options, true);
    const scale = await logitScale(projector);
    const z = await projector.projectToGpu(tower, embeddings, ids.length);
    return new Retriever(projector, tower, z, ids, { ...plan, scale });
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
  static async fromProjections(
    projector: Projector,
    tower: Tower,
    projections: Float32Array,
    ids: string[],
    options: RetrieverOptions = {},
  ): Promise<Retriever> {
    const method = "Retriever.fromProjections";
    const plan = planCollection(method, projector, ids.length, options, false);
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
    const scale = await logitScale(projector);
    const z = projector.gpu.storage(host, `${tower} projections`);
    return new Retriever(projector, tower, z, ids, { ...plan, scale });
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
  queryBatch(queries: Float32Array<ArrayBuffer>, count: number, k: number): Promise<Hit[][]> {
    return this.#queryRows("queryBatch", queries, count, k, false);
  }

  /**
   * {@link Retriever.queryBatch} for queries already projected by the other modality's head:
   * [count, outDim] unit rows (what {@link Projector.project} returns, or a search backend's
   * queries). The same hits as projecting them in the same submit, bit for bit.
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
   *   using reports = await Retriever.create(projector, "text", reportEmbeddings, ["r1", "r2", "r3"]);
   *   const image = await projector.project("image", new Float32Array([1, 0, 0, 0]), 1);
   *   const hits = await reports.queryProjected(image as Float32Array<ArrayBuffer>, 1, 2);
   *   // the same as reports.queryBatch(new Float32Array([1, 0, 0, 0]), 1, 2)
   * }
   * ```
   */
  queryProjected(
    projections: Float32Array<ArrayBuffer>,
    count: number,
    k: number,
  ): Promise<Hit[][]> {
    return this.#queryRows("queryProjected", projections, count, k, true);
  }

  /** Validates a batch and scores it in chunks; `projected`: the rows are projections already. */
  async #queryRows(
    method: string,
    queries: Float32Array<ArrayBuffer>,
    count: number,
    k: number,
    projected: boolean,
  ): Promise<Hit[][]> {
    this.#live(method);
    const p = this.#projector, n = this.size;
    const width = projected ? p.head.outDim : p.head.inDim;
    const most = Math.min(n, TOP_K_MAX);
    if (!(Number.isInteger(k) && k >= 1 && k <= most)) {
      throw new RangeError(`Retriever.${method}: k must be an integer in 1..${most}, got ${k}`);
    }
    checkQueries(`Retriever.${method}`, queries, count, {
      name: projected ? "outDim" : "inDim",
      width,
    });
    if (count === 0) return [];
    const hits: Hit[][] = [];
    for (let start = 0; start < count; start += this.#chunk) {
      const rows = Math.min(this.#chunk, count - start);
      const part = queries.subarray(start * width, (start + rows) * width);
      hits.push(...await this.#queryChunk(part, rows, k, projected));
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
   * The collection's projections [size, outDim] read back from the GPU (what
   * {@link Retriever.fromProjections} takes): to hand the index to another place that searches.
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
   *   using index = await Retriever.create(projector, "text", reports, ["r1", "r2"]);
   *   (await index.projections()).length; // 8: 2 unit rows of outDim 4
   * }
   * ```
   */
  projections(): Promise<Float32Array<ArrayBuffer>> {
    return this.#projector.gpu.read(this.#live("projections"));
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

  /**
   * Scores `rows` queries (frozen embeddings, or `projected` rows) against the collection in one
   * submit; the logit scale is undone on the host.
   * A collection of several shards: each shard's top k (its first `min(k, shard size)`) goes to a
   * slot of one candidate row per query, and a last top-k pass picks the k best candidates; a
   * candidate's position names its shard and its rank there, whose local index is read back.
   * Equal scores stay in index order: slots follow the shards, and ranks the indices within one.
   */
  async #queryChunk(
    queries: Float32Array<ArrayBuffer>,
    rows: number,
    k: number,
    projected: boolean,
  ): Promise<Hit[][]> {
    const scale = this.#scale;
    const p = this.#projector, gpu = p.gpu, n = this.size, dim = p.head.outDim;
    const other: Tower = this.#tower === "image" ? "text" : "image";
    const shards = Array.from({ length: Math.ceil(n / this.#shardRows) }, (_, s) => {
      const start = s * this.#shardRows, cols = Math.min(this.#shardRows, n - start);
      return { start, cols, k: Math.min(k, cols), slot: 0 };
    });
    shards.forEach((s, i) => (s.slot = i === 0 ? 0 : shards[i - 1].slot + shards[i - 1].k));
    const width = shards.at(-1)!.slot + shards.at(-1)!.k; // candidates per query
    const index = gpu.storage(rows * k, "top-k index"),
      score = gpu.storage(rows * k, "top-k score"),
      local = shards.length === 1 ? null : gpu.storage(rows * width, "top-k shard indices");
    try {
      // Checked again here: dispose() may have run while the projection was awaited.
      await gpu.runOnce(() => {
        const z = this.#live("queryBatch");
        const { q, project } = projected
          ? { q: gpu.storage(queries, `${other} query projections`), project: [] }
          : this.#projectQueries(queries, rows);
        const scores = gpu.storage(rows * shards[0].cols, "retrieval scores");
        if (shards.length === 1) {
          return [
            ...project,
            ...similarityForward(gpu, q, z, p.logitScale, scores, { rows, cols: n, dim }),
            ...topK(gpu, scores, index, score, { rows, cols: n, k }),
          ];
        }
        const candidates = gpu.storage(rows * width, "top-k shard scores");
        const bestIndex = gpu.storage(rows * k, "shard top-k index"),
          bestScore = gpu.storage(rows * k, "shard top-k score");
        const commands: Command[] = [...project];
        for (const s of shards) {
          const items = {
            buffer: z.buffer,
            offset: z.offset + s.start * dim * 4,
            length: s.cols * dim,
          };
          const part = { ...scores, length: rows * s.cols };
          const top = { rows, cols: s.cols, k: s.k };
          commands.push(
            ...similarityForward(gpu, q, items, p.logitScale, part, { rows, cols: s.cols, dim }),
            ...topK(gpu, part, bestIndex, bestScore, top),
          );
          for (let r = 0; r < rows; r++) {
            const from = (v: GpuView) => ({ ...v, offset: v.offset + r * s.k * 4, length: s.k });
            const to = (v: GpuView) => ({
              ...v,
              offset: v.offset + (r * width + s.slot) * 4,
              length: s.k,
            });
            commands.push(
              { copy: { src: from(bestScore), dst: to(candidates) } },
              { copy: { src: from(bestIndex), dst: to(local!) } },
            );
          }
        }
        commands.push(...topK(gpu, candidates, index, score, { rows, cols: width, k }));
        return commands;
      });
      const [ib, sb, lb] = await gpu.readBytes(local ? [index, score, local] : [index, score]);
      const idx = new Uint32Array(ib), sc = new Float32Array(sb);
      const at = lb ? new Uint32Array(lb) : null;
      const item = (r: number, c: number) => {
        if (!at) return c;
        const s = shards.findLast((s) => s.slot <= c)!;
        return s.start + at[r * width + c];
      };
      return Array.from({ length: rows }, (_, r) =>
        Array.from({ length: k }, (_, j) => {
          const i = item(r, idx[r * k + j]);
          return { id: this.#ids[i], index: i, score: sc[r * k + j] / scale };
        }));
    } finally {
      for (const b of [index, score, local]) b?.buffer.destroy();
    }
  }

  /** The queries' projection, encoded to run in the same submit as their scoring. */
  #projectQueries(queries: Float32Array<ArrayBuffer>, rows: number) {
    const p = this.#projector, gpu = p.gpu, head = { ...p.head, dropout: 0 };
    const other: Tower = this.#tower === "image" ? "text" : "image";
    const x = gpu.storage(standardize(queries, p.inputNorm[other]), `${other} queries`);
    const acts = allocateHeadActivations(gpu, head, rows);
    return { q: acts.z, project: headForward(gpu, p.layout, p.params, other, head, x, acts, null) };
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
