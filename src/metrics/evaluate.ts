/**
 * Evaluation on the GPU: score every query against every candidate (fused similarity), rank the
 * paired item and take the top k, in both directions, and turn the ranks into open_clip's
 * metrics. The trainer validates with it every epoch; the run report compares models with it.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import type { GpuView } from "../gpu/kernel.ts";
import { l2normForward } from "../ops/l2norm.ts";
import { retrievalRank, topK } from "../ops/retrieval.ts";
import { similarityForward } from "../ops/similarity.ts";
import { NORM_EPS } from "../model/head_graph.ts";
import { EVAL_CHUNK } from "../model/projector.ts";
import { labelPrecision, type Metrics, rankMetrics } from "./retrieval_metrics.ts";

/**
 * L2-normalizes `count` rows of `x` [count, dim] into a new buffer (the raw-encoder baseline).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const z = await normalizeRows(gpu, gpu.storage(new Float32Array([3, 4, 0, 2])), 2, 2);
 *   await gpu.read(z); // [0.6, 0.8, 0, 1]
 * }
 * ```
 */
export async function normalizeRows(
  gpu: GpuContext,
  x: GpuView,
  count: number,
  dim: number,
): Promise<GpuView> {
  const z = gpu.storage(count * dim, "normalized"), norm = gpu.storage(count, "norms");
  await gpu.runOnce(() => l2normForward(gpu, x, z, norm, { rows: count, dim, eps: NORM_EPS }));
  norm.buffer.destroy();
  return z;
}

/** What {@link rankQueries} finds for every query. */
export interface QueryRanking {
  /** Rank of the paired candidate (row i pairs with row i; 0 = first). */
  ranks: Uint32Array;
  /** Indices of the `k` best candidates per query, best first ([count, k]). */
  top: Uint32Array;
  /** `k`. */
  k: number;
}

/**
 * Ranks every candidate for every query by cosine similarity of normalized rows, on the GPU in
 * chunks of queries: the rank of each query's paired candidate and its top `k` candidates.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   // Normalized embeddings of 2 images and their 2 reports; logit scale exp(t) = 100.
 *   const zImage = gpu.storage(new Float32Array([1, 0, 0.8, 0.6]));
 *   const zText = gpu.storage(new Float32Array([1, 0, 0, 1]));
 *   const t = gpu.storage(new Float32Array([Math.log(100)]));
 *   const { ranks, top } = await rankQueries(gpu, zImage, zText, 2, 2, t, 2);
 *   // ranks [0, 1]: image 1's report comes second; top [0, 1, 0, 1]
 * }
 * ```
 */
export async function rankQueries(
  gpu: GpuContext,
  queries: GpuView,
  candidates: GpuView,
  count: number,
  dim: number,
  logitScale: GpuView,
  k: number,
): Promise<QueryRanking> {
  const chunk = Math.min(EVAL_CHUNK, count);
  const scores = gpu.storage(chunk * count, "eval scores");
  const rank = gpu.storage(count, "eval ranks");
  const top = gpu.storage(count * k, "eval top-k"), topScore = gpu.storage(count * k, "eval top-k");
  const targets = gpu.storage(Uint32Array.from({ length: count }, (_, i) => i), "eval targets");
  for (let start = 0; start < count; start += chunk) {
    const rows = Math.min(chunk, count - start);
    const q = {
      buffer: queries.buffer,
      offset: queries.offset + start * dim * 4,
      length: rows * dim,
    };
    const at = (v: GpuView, per = 1) => ({
      buffer: v.buffer,
      offset: v.offset + start * per * 4,
      length: rows * per,
    });
    await gpu.runOnce(() => [
      ...similarityForward(gpu, q, candidates, logitScale, scores, { rows, cols: count, dim }),
      ...retrievalRank(gpu, scores, at(targets), at(rank), { rows, cols: count }),
      ...topK(gpu, scores, at(top, k), at(topScore, k), { rows, cols: count, k }),
    ]);
  }
  const [rankBytes, topBytes] = await gpu.readBytes([rank, top]);
  for (const b of [scores, rank, top, topScore, targets]) b.buffer.destroy();
  return { ranks: new Uint32Array(rankBytes), top: new Uint32Array(topBytes), k };
}

/**
 * Image-to-text and text-to-image metrics of normalized paired embeddings: paired-item recall and
 * ranks, and with `labels` the share of the top 5 and 10 results that have the query's
 * normal/abnormal label (`_label_P@k`: clinically relevant results, not only the paired one).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const zImage = gpu.storage(new Float32Array([1, 0, 0.8, 0.6]));
 *   const zText = gpu.storage(new Float32Array([1, 0, 0, 1]));
 *   const t = gpu.storage(new Float32Array([Math.log(100)]));
 *   const metrics = await retrievalMetrics(gpu, zImage, zText, 2, 2, t, new Int32Array([0, 1]));
 *   metrics["image_to_text_R@1"]; // 0.5
 * }
 * ```
 */
export async function retrievalMetrics(
  gpu: GpuContext,
  zImage: GpuView,
  zText: GpuView,
  count: number,
  dim: number,
  logitScale: GpuView,
  labels?: Int32Array,
): Promise<Metrics> {
  const k = Math.min(10, count);
  const out: Metrics = {};
  for (
    const [prefix, q, c] of [["image_to_text", zImage, zText], [
      "text_to_image",
      zText,
      zImage,
    ]] as const
  ) {
    const r = await rankQueries(gpu, q, c, count, dim, logitScale, k);
    Object.assign(out, rankMetrics(r.ranks, prefix));
    if (labels) Object.assign(out, labelPrecision(r.top, r.k, labels, prefix));
  }
  return out;
}
