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
import { TIE_RULE, withTies } from "./ranks.ts";
import { CLINICAL_TOP_K, clinicalMetrics, pairReciprocalRank, type Relevance } from "./clinical.ts";

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
  /**
   * Rank of the paired candidate (row i pairs with row i; 0 = first) under {@link TIE_RULE}:
   * every other candidate with exactly its score counts against it.
   */
  ranks: Float64Array;
  /** Indices of the `k` best candidates per query, best first ([count, k]). */
  top: Uint32Array;
  /** `k`. */
  k: number;
}

/**
 * Ranks every candidate for every query by cosine similarity of normalized rows, on the GPU in
 * chunks of queries: the rank of each query's paired candidate (the GPU's optimistic rank plus
 * the exact ties found in the score rows read back, {@link withTies}) and its top `k` candidates.
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
  const ranks = new Float64Array(count);
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
    const [scoreBytes, rankBytes] = await gpu.readBytes([
      { buffer: scores.buffer, offset: scores.offset, length: rows * count },
      at(rank),
    ]);
    const paired = Array.from({ length: rows }, (_, i) => start + i);
    ranks.set(
      withTies(new Uint32Array(rankBytes), new Float32Array(scoreBytes), count, paired, TIE_RULE),
      start,
    );
  }
  const [topBytes] = await gpu.readBytes([top]);
  for (const b of [scores, rank, top, topScore, targets]) b.buffer.destroy();
  return { ranks, top: new Uint32Array(topBytes), k };
}

/** Ranks both directions (top `k`) and merges `metricsOf` each ranking under its prefix. */
async function bothDirections(
  gpu: GpuContext,
  zImage: GpuView,
  zText: GpuView,
  shape: { count: number; dim: number; k: number },
  logitScale: GpuView,
  metricsOf: (r: QueryRanking, prefix: string) => Metrics,
): Promise<Metrics> {
  const { count, dim, k } = shape;
  const out: Metrics = {};
  for (
    const [prefix, q, c] of [
      ["image_to_text", zImage, zText],
      ["text_to_image", zText, zImage],
    ] as const
  ) {
    Object.assign(out, metricsOf(await rankQueries(gpu, q, c, count, dim, logitScale, k), prefix));
  }
  return out;
}

/**
 * Image-to-text and text-to-image metrics of normalized paired embeddings: paired-item recall and
 * ranks (ties counted against the query, {@link TIE_RULE}), and with `labels` the share of the top
 * 5 and 10 results that have the query's normal/abnormal label (`_label_P@k`: clinically relevant
 * results, not only the paired one). The trainer's validation metrics.
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
  const shape = { count, dim, k: Math.min(10, count) };
  return await bothDirections(gpu, zImage, zText, shape, logitScale, (r, prefix) => ({
    ...rankMetrics(r.ranks, prefix),
    ...(labels ? labelPrecision(r.top, r.k, labels, prefix) : {}),
  }));
}

/** Normalized paired embeddings on the GPU: row i of both is study i. */
export interface PairedEmbeddings {
  /** Images [count, dim]. */
  zImage: GpuView;
  /** Reports [count, dim]. */
  zText: GpuView;
  /** Studies. */
  count: number;
  /** Embedding width. */
  dim: number;
  /** Log of the similarity scale (one float; ranks do not depend on it). */
  logitScale: GpuView;
}

/**
 * The evaluation's full metric set, both directions, from one GPU ranking per direction (top
 * min(20, count)): paired-item R@1/5/10, mean/median rank and `_MRR` (ties against the query),
 * and for each relevance (`labelRelevance`, `findingsRelevance`) `_<name>_P@K`,
 * `_mAP@K`, `_nDCG@K` (K = 10, 20) and `_<name>_MRR`.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { labelRelevance } from "./clinical.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const zImage = gpu.storage(new Float32Array([1, 0, 0.8, 0.6]));
 *   const zText = gpu.storage(new Float32Array([1, 0, 0, 1]));
 *   const t = gpu.storage(new Float32Array([Math.log(100)]));
 *   const rel = [labelRelevance(new Int32Array([0, 1]))];
 *   const pairs = { zImage, zText, count: 2, dim: 2, logitScale: t };
 *   const m = await clinicalRetrievalMetrics(gpu, pairs, rel);
 *   m["image_to_text_label_mAP@10"]; // 0.75: image 1's report comes second
 * }
 * ```
 */
export async function clinicalRetrievalMetrics(
  gpu: GpuContext,
  pairs: PairedEmbeddings,
  relevance: readonly Relevance[],
): Promise<Metrics> {
  const { zImage, zText, count, dim, logitScale } = pairs;
  for (const rel of relevance) {
    if (rel.size !== count) {
      throw new RangeError(`${rel.name} relevance covers ${rel.size} studies, expected ${count}`);
    }
  }
  const shape = { count, dim, k: Math.min(CLINICAL_TOP_K, count) };
  return await bothDirections(gpu, zImage, zText, shape, logitScale, (r, prefix) => {
    const out = { ...rankMetrics(r.ranks, prefix), ...pairReciprocalRank(r.ranks, prefix) };
    for (const rel of relevance) Object.assign(out, clinicalMetrics(r.top, r.k, rel, prefix));
    return out;
  });
}
