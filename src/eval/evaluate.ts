/**
 * Evaluation on the GPU: project a split's embeddings through the heads, score every query
 * against every candidate (fused similarity) and rank the paired item, in both directions.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import type { GpuView } from "../gpu/kernel.ts";
import { l2normForward } from "../ops/l2norm.ts";
import { retrievalRank } from "../ops/retrieval.ts";
import { similarityForward } from "../ops/similarity.ts";
import type { HeadConfig } from "../model/config.ts";
import { allocateHeadActivations, headForward, NORM_EPS, type Tower } from "../model/head_graph.ts";
import type { ParameterLayout } from "../model/parameters.ts";
import { type Metrics, rankMetrics } from "./retrieval_metrics.ts";

/** Rows projected per submit (a multiple of 64 keeps every binding offset 256-byte aligned). */
export const EVAL_CHUNK = 1024;

/** Trained heads on the GPU. */
export interface GpuHeads {
  /** Head configuration. */
  head: HeadConfig;
  /** Parameter layout. */
  layout: ParameterLayout;
  /** Flat parameters. */
  params: GpuView;
}

/**
 * Projects `count` rows of `x` [count, inDim] through one head (no dropout) into a new buffer of
 * L2-normalized embeddings [count, outDim].
 * @example
 * ```ts
 * // const z = await projectRows(gpu, heads, "image", x, count);
 * ```
 */
export async function projectRows(
  gpu: GpuContext,
  heads: GpuHeads,
  tower: Tower,
  x: GpuView,
  count: number,
): Promise<GpuView> {
  const { head, layout, params } = heads;
  const out = gpu.storage(count * head.outDim, `${tower} projections`);
  const chunk = Math.min(EVAL_CHUNK, count);
  const acts = allocateHeadActivations(gpu, { ...head, dropout: 0 }, chunk);
  for (let start = 0; start < count; start += chunk) {
    const rows = Math.min(chunk, count - start);
    const xs = {
      buffer: x.buffer,
      offset: x.offset + start * head.inDim * 4,
      length: rows * head.inDim,
    };
    const n = rows * head.outDim;
    await gpu.runOnce(() => [
      ...headForward(gpu, layout, params, tower, head, xs, { ...acts, rows }, null),
      {
        copy: {
          src: { ...acts.z, length: n },
          dst: { ...out, offset: out.offset + start * head.outDim * 4, length: n },
        },
      },
    ]);
  }
  gpu.throwIfFailed("projection");
  return out;
}

/**
 * L2-normalizes `count` rows of `x` [count, dim] into a new buffer (the raw-encoder baseline).
 * @example
 * ```ts
 * // const z = await normalizeRows(gpu, x, count, 512);
 * ```
 */
export async function normalizeRows(
  gpu: GpuContext,
  x: GpuView,
  count: number,
  dim: number,
): Promise<GpuView> {
  const z = gpu.storage(count * dim, "normalized"), norm = gpu.storage(count, "norms");
  await gpu.runOnce(() => [l2normForward(gpu, x, z, norm, { rows: count, dim, eps: NORM_EPS })]);
  norm.buffer.destroy();
  return z;
}

/**
 * Rank of each query's paired candidate (row i pairs with row i) among all candidates, by cosine
 * similarity of normalized rows, computed on the GPU in chunks of queries.
 * @example
 * ```ts
 * // const ranks = await pairedRanks(gpu, zImage, zText, count, dim, logitScale);
 * ```
 */
export async function pairedRanks(
  gpu: GpuContext,
  queries: GpuView,
  candidates: GpuView,
  count: number,
  dim: number,
  logitScale: GpuView,
): Promise<Uint32Array> {
  const chunk = Math.min(EVAL_CHUNK, count);
  const scores = gpu.storage(chunk * count, "eval scores");
  const rank = gpu.storage(count, "eval ranks");
  const targets = gpu.storage(Uint32Array.from({ length: count }, (_, i) => i), "eval targets");
  for (let start = 0; start < count; start += chunk) {
    const rows = Math.min(chunk, count - start);
    const q = {
      buffer: queries.buffer,
      offset: queries.offset + start * dim * 4,
      length: rows * dim,
    };
    const at = (v: GpuView) => ({ buffer: v.buffer, offset: v.offset + start * 4, length: rows });
    await gpu.runOnce(() => [
      ...similarityForward(gpu, q, candidates, logitScale, scores, { rows, cols: count, dim }),
      retrievalRank(gpu, scores, at(targets), at(rank), { rows, cols: count }),
    ]);
  }
  const [bytes] = await gpu.readBytes([rank]);
  for (const b of [scores, rank, targets]) b.buffer.destroy();
  return new Uint32Array(bytes);
}

/**
 * Image-to-text and text-to-image metrics of normalized paired embeddings.
 * @example
 * ```ts
 * // const metrics = await retrievalMetrics(gpu, zImage, zText, count, dim, logitScale);
 * ```
 */
export async function retrievalMetrics(
  gpu: GpuContext,
  zImage: GpuView,
  zText: GpuView,
  count: number,
  dim: number,
  logitScale: GpuView,
): Promise<Metrics> {
  const i2t = await pairedRanks(gpu, zImage, zText, count, dim, logitScale);
  const t2i = await pairedRanks(gpu, zText, zImage, count, dim, logitScale);
  return { ...rankMetrics(i2t, "image_to_text"), ...rankMetrics(t2i, "text_to_image") };
}
