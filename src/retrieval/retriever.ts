/**
 * A Retriever holds the projected embeddings of a collection (reports, or images) on the GPU and
 * answers queries of the other modality with the top-k most similar items.
 *
 * @module
 */

import type { GpuView } from "../gpu/kernel.ts";
import type { Tower } from "../model/head_graph.ts";
import { similarityForward } from "../ops/similarity.ts";
import { topK } from "../ops/retrieval.ts";
import type { Projector } from "./projector.ts";

/** One retrieved item. */
export interface Hit {
  /** The item's id. */
  id: string;
  /** Its row in the collection. */
  index: number;
  /** Cosine similarity to the query in the projected space. */
  score: number;
}

/**
 * Top-k retrieval over a collection of one modality.
 * @example
 * ```ts
 * import { initialParameters } from "../model/init.ts";
 * import { ParameterLayout } from "../model/parameters.ts";
 * import { Projector } from "./projector.ts";
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
 *   const reports = await Retriever.create(projector, "text", reportEmbeddings, ids);
 *   const hits = await reports.query(new Float32Array([1, 0, 0, 0]), 2); // an image's 2 reports
 *   // [{ id, index, score }, { id, index, score }], best first
 * }
 * ```
 */
export class Retriever {
  readonly #projector: Projector;
  readonly #tower: Tower;
  readonly #z: GpuView;
  readonly #ids: string[];

  private constructor(projector: Projector, tower: Tower, z: GpuView, ids: string[]) {
    this.#projector = projector;
    this.#tower = tower;
    this.#z = z;
    this.#ids = ids;
  }

  /**
   * Projects and uploads a collection: `embeddings` [ids.length, inDim] of modality `tower`.
   */
  static async create(
    projector: Projector,
    tower: Tower,
    embeddings: Float32Array<ArrayBuffer>,
    ids: string[],
  ): Promise<Retriever> {
    const z = await projector.projectToGpu(tower, embeddings, ids.length);
    return new Retriever(projector, tower, z, ids);
  }

  /** Number of items. */
  get size(): number {
    return this.#ids.length;
  }

  /**
   * The `k` best items for each of `count` queries (frozen embeddings [count, inDim] of the OTHER
   * modality), best first.
   */
  async queryBatch(queries: Float32Array<ArrayBuffer>, count: number, k: number): Promise<Hit[][]> {
    const p = this.#projector, gpu = p.gpu, n = this.size, D = p.head.outDim;
    if (!(Number.isInteger(k) && k >= 1 && k <= Math.min(n, 64))) {
      throw new RangeError(`k must be an integer in 1..${Math.min(n, 64)}, got ${k}`);
    }
    const other: Tower = this.#tower === "image" ? "text" : "image";
    const q = await p.projectToGpu(other, queries, count);
    const scores = gpu.storage(count * n, "retrieval scores");
    const index = gpu.storage(count * k, "top-k index"),
      score = gpu.storage(count * k, "top-k score");
    await gpu.runOnce(() => [
      ...similarityForward(gpu, q, this.#z, p.logitScale, scores, { rows: count, cols: n, dim: D }),
      ...topK(gpu, scores, index, score, { rows: count, cols: n, k }),
    ]);
    const [ib, sb] = await gpu.readBytes([index, score]);
    const scale = Math.min(Math.exp((await gpu.read(p.logitScale))[0]), 100);
    for (const b of [q, scores, index, score]) b.buffer.destroy();
    const idx = new Uint32Array(ib), sc = new Float32Array(sb);
    return Array.from({ length: count }, (_, r) =>
      Array.from({ length: k }, (_, j) => {
        const i = idx[r * k + j];
        return { id: this.#ids[i], index: i, score: sc[r * k + j] / scale };
      }));
  }

  /** The `k` best items for one query embedding [inDim] of the other modality. */
  async query(embedding: Float32Array<ArrayBuffer>, k: number): Promise<Hit[]> {
    return (await this.queryBatch(embedding, 1, k))[0];
  }
}
