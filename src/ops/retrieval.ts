/**
 * Retrieval evaluation on the GPU (`kernels/retrieval.wgsl`): the rank of each query's matching
 * candidate and each query's top k, from a score matrix that never leaves the GPU; twin in
 * `src/reference/retrieval.ts`. Both follow its one order (`ranksBefore`): finite scores, highest
 * first, then the non-finite ones (NaN, ±Infinity); equal scores by lower index.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import type { GpuView, KernelSpec } from "../gpu/kernel.ts";
import { checkRetrieval, type RetrievalShape, type TopKShape } from "../reference/retrieval.ts";
import { grid2d, GRID_LIBRARY } from "./grid.ts";
import { checkLength } from "./shapes.ts";

export { INVALID_RANK, TOP_K_MAX } from "../reference/retrieval.ts";
export type { RetrievalShape, TopKShape } from "../reference/retrieval.ts";

const RANK_WG = 64;
const TOP_K_WG = 64;
/**
 * Candidates one top-k invocation scans, at most. Worst case (every candidate inserted at the
 * front) it runs about CANDIDATES · k loop iterations, 32,768 for k = 64: below the 65,535 that
 * Mesa's llvmpipe allows one invocation in total.
 */
const CANDIDATES = 512;
/** llvmpipe's loop budget per invocation (all loops together); see kernels/retrieval.wgsl. */
const LOOP_BUDGET = 65_535;

/** `retrieval_rank`: the rank (u32) of each row's target (u32) among its scores. */
export const RETRIEVAL_RANK: KernelSpec = {
  name: "retrieval_rank",
  file: "retrieval.wgsl",
  libraries: [GRID_LIBRARY],
  entryPoint: "retrieval_rank",
  workgroupSize: [RANK_WG],
  uniforms: { rows: "u32", cols: "u32" },
  bindings: { scores: "read", targets: "read", rank: "read_write" },
};

/** `top_k_pass`: the k best of each share of in_score / in_index (u32) into out_score / out_index. */
export const TOP_K_PASS: KernelSpec = {
  name: "top_k_pass",
  file: "retrieval.wgsl",
  libraries: [GRID_LIBRARY],
  entryPoint: "top_k_pass",
  workgroupSize: [TOP_K_WG],
  uniforms: { rows: "u32", k: "u32", in_len: "u32", chunks: "u32", first: "u32" },
  bindings: {
    in_score: "read",
    in_index: "read",
    out_score: "read_write",
    out_index: "read_write",
  },
};

/**
 * Prepares the rank (u32, 0 = best) of each row's target: for a finite target score
 * `rank[i] = #{j : finite scores[i, j] > scores[i, target[i]]}` (ties in the query's favour); a
 * non-finite target score (NaN, ±Infinity) ranks last, `cols - 1`; {@link INVALID_RANK} for a
 * target outside `[0, cols)`. One workgroup per row.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   // Image-to-text: row i of scores holds image i against every report; report i matches.
 *   const scores = gpu.storage(new Float32Array([0.9, 0.1, 0.8, 0.7])); // 2 images x 2 reports
 *   const target = gpu.storage(new Uint32Array([0, 1])), rank = gpu.storage(2);
 *   await gpu.run(retrievalRank(gpu, scores, target, rank, { rows: 2, cols: 2 }));
 *   new Uint32Array((await gpu.readBytes([rank]))[0]); // [0, 1]: image 1's report comes second
 * }
 * ```
 */
export function retrievalRank(
  gpu: GpuContext,
  scores: GpuView,
  target: GpuView,
  rank: GpuView,
  shape: RetrievalShape,
): Command[] {
  checkRetrieval("retrieval_rank", shape);
  const { rows, cols } = shape;
  if (cols > RANK_WG * LOOP_BUDGET) {
    throw new RangeError(
      `retrieval_rank: cols = ${cols} is more than ${RANK_WG * LOOP_BUDGET} (software adapters ` +
        `stop an invocation after ${LOOP_BUDGET} loop iterations)`,
    );
  }
  checkLength("retrieval_rank", {
    scores: [scores, rows * cols],
    target: [target, rows],
    rank: [rank, rows],
  });
  const inputs = { uniforms: { rows, cols }, bindings: { scores, targets: target, rank } };
  return [gpu.prepare(RETRIEVAL_RANK, inputs, grid2d(gpu, rows, 1))];
}

/**
 * Prepares the first `k` (≤ {@link TOP_K_MAX}, ≤ cols) candidates of each row:
 * `outIndex[i * k + r]` (u32) and `outScore[i * k + r]` (the score as stored). Finite scores
 * first, highest first, equal ones by lower index; non-finite scores (NaN, ±Infinity) only once
 * the finite ones run out, by index. Returns the passes to encode in order: the first keeps the
 * k best of every 512 columns, each further one merges those lists 512 candidates at a time (one
 * pass up to 512 columns, two up to 512 · ⌊512 / k⌋). Allocates scratch buffers: prepare once,
 * encode often.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const scores = gpu.storage(new Float32Array([0.5, 0.9, 0.5, 0.1])); // 1 query x 4 items
 *   const idx = gpu.storage(2), val = gpu.storage(2);
 *   await gpu.runOnce(() => topK(gpu, scores, idx, val, { rows: 1, cols: 4, k: 2 }));
 *   const [i, s] = await gpu.readBytes([idx, val]);
 *   [new Uint32Array(i), new Float32Array(s)]; // [[1, 0], [0.9, 0.5]]
 * }
 * ```
 */
export function topK(
  gpu: GpuContext,
  scores: GpuView,
  outIndex: GpuView,
  outScore: GpuView,
  shape: TopKShape,
): Command[] {
  checkRetrieval("top_k", shape);
  const { rows, cols, k } = shape;
  checkLength("top_k", {
    scores: [scores, rows * cols],
    outIndex: [outIndex, rows * k],
    outScore: [outScore, rows * k],
  });
  const passes: Command[] = [];
  const scratch: { score: GpuView; index: GpuView }[] = [];
  // The first pass reads raw scores, its candidate columns are positions: `index` is not read.
  let input = { score: scores, index: scores };
  let inLen = cols, first = 1;
  for (;;) {
    const chunks = Math.ceil(inLen / CANDIDATES);
    let output = { score: outScore, index: outIndex };
    if (chunks > 1) {
      const slot = passes.length % 2;
      scratch[slot] ??= {
        score: gpu.storage(rows * chunks * k, "top_k scratch scores"),
        index: gpu.storage(rows * chunks * k, "top_k scratch indices"),
      };
      output = scratch[slot];
    }
    const uniforms = { rows, k, in_len: inLen, chunks, first };
    const bindings = {
      in_score: input.score,
      in_index: input.index,
      out_score: output.score,
      out_index: output.index,
    };
    passes.push(
      gpu.prepare(TOP_K_PASS, { uniforms, bindings }, grid2d(gpu, rows * chunks, TOP_K_WG)),
    );
    if (chunks === 1) return passes;
    input = output;
    inLen = chunks * k;
    first = 0;
  }
}
