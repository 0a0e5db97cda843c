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
import { bestPaired, type PairedColumns, TIE_RULE, withTies } from "./ranks.ts";
import {
  CLINICAL_TOP_K,
  clinicalMetrics,
  imageRelevance,
  pairReciprocalRank,
  type Relevance,
} from "./clinical.ts";

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
   * every other candidate with exactly its score counts against it. With several paired
   * candidates ({@link rankPaired}): the rank of the best of them ({@link groupRank}).
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
  const self = Uint32Array.from({ length: count }, (_, i) => i);
  const paired = { start: self, end: self.map((i) => i + 1) };
  const shape = { queries: count, candidates: count, dim, k };
  return await rankPaired(gpu, queries, candidates, shape, logitScale, paired);
}

/** Sizes of a {@link rankPaired} call. */
export interface RankShape {
  /** Query rows. */
  queries: number;
  /** Candidate rows. */
  candidates: number;
  /** Embedding width. */
  dim: number;
  /** Top-k length. */
  k: number;
}

/**
 * {@link rankQueries} with any number of candidates and paired candidates per query: query i
 * pairs with candidates `[paired.start[i], paired.end[i])`, and its rank is that of the best of
 * them among the unpaired ones ({@link groupRank}; per image, a report and its study's images).
 * Queries with one paired candidate are ranked in the same submission as the scores; with
 * several, the GPU ranks the best one once the scores are read back.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   // Report 0 pairs with images 0 and 1, report 1 with image 2.
 *   const zText = gpu.storage(new Float32Array([1, 0, 0, 1]));
 *   const zImages = gpu.storage(new Float32Array([0, 1, 0.8, 0.6, 1, 0]));
 *   const t = gpu.storage(new Float32Array([0]));
 *   const shape = { queries: 2, candidates: 3, dim: 2, k: 3 };
 *   const paired = { start: Uint32Array.of(0, 2), end: Uint32Array.of(2, 3) };
 *   const { ranks } = await rankPaired(gpu, zText, zImages, shape, t, paired);
 *   // ranks [1, 1]: image 2 beats report 0's best image 1; image 0 beats report 1's image 2
 * }
 * ```
 */
export async function rankPaired(
  gpu: GpuContext,
  queries: GpuView,
  candidates: GpuView,
  shape: RankShape,
  logitScale: GpuView,
  paired: PairedColumns,
): Promise<QueryRanking> {
  const { queries: count, candidates: cols, dim, k } = shape;
  const single = Array.from({ length: count }, (_, i) => paired.end[i] - paired.start[i] === 1)
    .every(Boolean);
  const chunk = Math.min(EVAL_CHUNK, count);
  const scores = gpu.storage(chunk * cols, "eval scores");
  const rank = gpu.storage(count, "eval ranks");
  const ranks = new Float64Array(count);
  const top = gpu.storage(count * k, "eval top-k"), topScore = gpu.storage(count * k, "eval top-k");
  const targets = gpu.storage(Uint32Array.from(paired.start), "eval targets");
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
    const shown = { buffer: scores.buffer, offset: scores.offset, length: rows * cols };
    const rankRows = () => retrievalRank(gpu, scores, at(targets), at(rank), { rows, cols });
    await gpu.runOnce(() => [
      ...similarityForward(gpu, q, candidates, logitScale, scores, { rows, cols, dim }),
      ...(single ? rankRows() : []),
      ...topK(gpu, scores, at(top, k), at(topScore, k), { rows, cols, k }),
    ]);
    const scoreRows = new Float32Array((await gpu.readBytes([shown]))[0]);
    const chunkPaired = {
      start: Array.from({ length: rows }, (_, i) => paired.start[start + i]),
      end: Array.from({ length: rows }, (_, i) => paired.end[start + i]),
    };
    const best = chunkPaired.start.map((from, i) =>
      bestPaired(scoreRows.subarray(i * cols, (i + 1) * cols), from, chunkPaired.end[i])
    );
    if (!single) {
      gpu.write(at(targets), Uint32Array.from(best));
      await gpu.runOnce(rankRows);
    }
    const [rankBytes] = await gpu.readBytes([at(rank)]);
    ranks.set(
      withTies(new Uint32Array(rankBytes), scoreRows, cols, best, TIE_RULE, chunkPaired),
      start,
    );
  }
  const [topBytes] = await gpu.readBytes([top]);
  for (const b of [scores, rank, top, topScore, targets]) b.buffer.destroy();
  return { ranks, top: new Uint32Array(topBytes), k };
}

/** One direction of an evaluation: its queries, candidates and pairing. */
interface Direction {
  prefix: "image_to_text" | "text_to_image";
  queries: GpuView;
  candidates: GpuView;
  shape: RankShape;
  paired: PairedColumns;
  /** Per image: the relevance of this direction's queries and candidates, from a study's. */
  relevance: (r: Relevance) => Relevance;
}

/**
 * Both directions of `pairs` with top `k` (at most the candidates): per study, row i pairs with
 * row i; per image (`imageStudy`), an image query pairs with its study's report and a report
 * query with its study's images.
 */
function directions(pairs: PairedEmbeddings, k: number): Direction[] {
  const { zImage, zText, count, dim, imageStudy } = pairs;
  const rows = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);
  if (!imageStudy) {
    const self = { start: rows(count), end: rows(count).map((i) => i + 1) };
    const shape = { queries: count, candidates: count, dim, k: Math.min(k, count) };
    return [
      { prefix: "image_to_text", queries: zImage, candidates: zText, shape, paired: self },
      { prefix: "text_to_image", queries: zText, candidates: zImage, shape, paired: self },
    ].map((d) => ({ ...d, relevance: (r: Relevance) => r }) as Direction);
  }
  const images = imageStudy.length;
  const first = new Uint32Array(count + 1);
  for (const s of imageStudy) first[s + 1]++;
  for (let s = 0; s < count; s++) first[s + 1] += first[s];
  return [{
    prefix: "image_to_text",
    queries: zImage,
    candidates: zText,
    shape: { queries: images, candidates: count, dim, k: Math.min(k, count) },
    paired: {
      start: Uint32Array.from(imageStudy),
      end: Uint32Array.from(imageStudy, (s) => s + 1),
    },
    relevance: (r) => imageRelevance(r, { queryStudy: imageStudy }),
  }, {
    prefix: "text_to_image",
    queries: zText,
    candidates: zImage,
    shape: { queries: count, candidates: images, dim, k: Math.min(k, images) },
    paired: { start: first.subarray(0, count), end: first.subarray(1) },
    relevance: (r) => imageRelevance(r, { candidateStudy: imageStudy }),
  }];
}

/** Ranks both directions of `pairs` (top `k`) and merges `metricsOf` each ranking. */
async function bothDirections(
  gpu: GpuContext,
  pairs: PairedEmbeddings,
  k: number,
  metricsOf: (r: QueryRanking, d: Direction) => Metrics,
): Promise<Metrics> {
  const out: Metrics = {};
  for (const d of directions(pairs, k)) {
    const r = await rankPaired(gpu, d.queries, d.candidates, d.shape, pairs.logitScale, d.paired);
    Object.assign(out, metricsOf(r, d));
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
  const pairs = { zImage, zText, count, dim, logitScale };
  return await bothDirections(gpu, pairs, 10, (r, { prefix }) => ({
    ...rankMetrics(r.ranks, prefix),
    ...(labels ? labelPrecision(r.top, r.k, labels, prefix) : {}),
  }));
}

/**
 * Normalized paired embeddings on the GPU: row i of both is study i, or per image (with
 * `imageStudy`) `zImage` holds every image and `imageStudy` their studies.
 */
export interface PairedEmbeddings {
  /** Images [count, dim], or [imageStudy.length, dim] per image. */
  zImage: GpuView;
  /** Reports [count, dim]. */
  zText: GpuView;
  /** Studies. */
  count: number;
  /** Embedding width. */
  dim: number;
  /** Log of the similarity scale (one float; ranks do not depend on it). */
  logitScale: GpuView;
  /**
   * Per-image evaluation: each image row's study, non-decreasing (every study has at least one
   * image). Image queries pair with their study's report; report queries with their study's
   * images, ranked by the best of them ({@link rankPaired}).
   */
  imageStudy?: Int32Array;
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
  const { count, imageStudy } = pairs;
  for (const rel of relevance) {
    if (rel.size !== count) {
      throw new RangeError(`${rel.name} relevance covers ${rel.size} studies, expected ${count}`);
    }
  }
  if (imageStudy) checkImageStudy(imageStudy, count);
  return await bothDirections(gpu, pairs, CLINICAL_TOP_K, (r, d) => {
    const out = { ...rankMetrics(r.ranks, d.prefix), ...pairReciprocalRank(r.ranks, d.prefix) };
    for (const rel of relevance) {
      Object.assign(out, clinicalMetrics(r.top, r.k, d.relevance(rel), d.prefix));
    }
    return out;
  });
}

/** Throws unless every study in `[0, count)` has images and the rows are grouped by study. */
function checkImageStudy(imageStudy: Int32Array, count: number): void {
  let expected = 0;
  for (let i = 0; i < imageStudy.length; i++) {
    const s = imageStudy[i];
    if (s === expected) expected++;
    else if (s !== expected - 1) {
      throw new RangeError(
        `imageStudy[${i}] is ${s}; expected ${expected - 1} or ${expected}: images grouped by ` +
          "study in study order, every study with at least one image",
      );
    }
  }
  if (expected !== count) {
    throw new RangeError(`imageStudy covers studies [0, ${expected}), expected [0, ${count})`);
  }
}
