/**
 * Fused scaled similarity `logits = min(exp(t), 100) U Vᵀ` on the GPU
 * (`kernels/similarity.wgsl`): CLIP's logits, with the learnable log scale `t` read from a GPU
 * buffer (a view into the flat parameter buffer). Twin in `src/reference/similarity.ts`.
 *
 * Views that a call reads and views that it writes must lie in different buffers (WebGPU forbids
 * binding one buffer as read-only and writable storage in the same dispatch).
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import { type Dispatch, type GpuView, groups, type KernelSpec } from "../gpu/kernel.ts";
import type { SimilarityShape } from "../reference/similarity.ts";
import { checkLength } from "./shapes.ts";

export type { SimilarityShape } from "../reference/similarity.ts";

/** Threads per GEMM workgroup; each thread computes an 8x8 output tile. */
const WG = 16;
const TILE = 8;
/** Threads of the single workgroup that sums the dt partials. */
const WG_REDUCE = 64;

const FILE = "similarity.wgsl";

/** `similarity_forward`: uniform, t, u, v, logits. */
export const SIMILARITY_FORWARD: KernelSpec = {
  name: "similarity_forward",
  file: FILE,
  entryPoint: "similarity_forward",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "read", "read", "write"],
};

/** `similarity_backward_u`: uniform, t, u, v, dlogits, du (accumulated), partial sums for dt. */
export const SIMILARITY_BACKWARD_U: KernelSpec = {
  name: "similarity_backward_u",
  file: FILE,
  entryPoint: "similarity_backward_u",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "read", "read", "read", "write", "write"],
};

/** `similarity_backward_v`: uniform, t, u, v (unused), dlogits, dv (accumulated). */
export const SIMILARITY_BACKWARD_V: KernelSpec = {
  name: "similarity_backward_v",
  file: FILE,
  entryPoint: "similarity_backward_v",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "read", "read", "read", "write"],
};

/** `similarity_backward_t`: uniform, t, partial sums, dt (accumulated). One workgroup. */
export const SIMILARITY_BACKWARD_T: KernelSpec = {
  name: "similarity_backward_t",
  file: FILE,
  entryPoint: "similarity_backward_t",
  workgroupSize: [WG_REDUCE],
  bindings: ["uniform", "read", "read", "write"],
};

/** Workgroup grid of a GEMM pass whose output has `rows` x `cols` elements. */
function grid(rows: number, cols: number): [number, number] {
  return [groups(Math.ceil(cols / TILE), WG), Math.ceil(rows / TILE)];
}

/**
 * Prepares `logits[i, j] = s (u_i · v_j)`, `s = min(exp(t[0]), 100)`; `u` is `[rows, dim]`, `v`
 * `[cols, dim]`, `logits` `[rows, cols]`, `t` one element.
 * @example
 * ```ts
 * // const d = similarityForward(gpu, u, v, t, logits, { rows: 256, cols: 256, dim: 256 });
 * // await gpu.run([d]);
 * ```
 */
export function similarityForward(
  gpu: GpuContext,
  u: GpuView,
  v: GpuView,
  t: GpuView,
  logits: GpuView,
  shape: SimilarityShape,
): Dispatch {
  const { rows, cols, dim } = shape;
  checkLength("similarity_forward", {
    u: [u, rows * dim],
    v: [v, cols * dim],
    t: [t, 1],
    logits: [logits, rows * cols],
  });
  return gpu.prepare(SIMILARITY_FORWARD, uniforms(shape), [t, u, v, logits], grid(rows, cols));
}

/**
 * Prepares the accumulating backward: `du += s dL V`, `dv += s dLᵀ U` and
 * `dt[0] += s Σ dL ⊙ (U Vᵀ)` while `exp(t) < 100` (nothing once the cap holds). Three passes;
 * the first also writes per-tile partial sums for `dt` into a scratch buffer that this call
 * allocates once (`ceil(rows/8) * ceil(dim/8)` floats) and the dispatches keep.
 *
 * `du` and `dv` may be the same view (the passes run one after the other), which gives
 * `du += s (dL + dLᵀ) U` when `u` and `v` are the same rows.
 * @example
 * ```ts
 * // const ds = similarityBackward(gpu, u, v, t, dlogits, du, dv, dt, { rows: 256, cols: 256, dim: 256 });
 * // await gpu.run(ds);
 * ```
 */
export function similarityBackward(
  gpu: GpuContext,
  u: GpuView,
  v: GpuView,
  t: GpuView,
  dlogits: GpuView,
  du: GpuView,
  dv: GpuView,
  dt: GpuView,
  shape: SimilarityShape,
): Dispatch[] {
  const { rows, cols, dim } = shape;
  checkLength("similarity_backward", {
    u: [u, rows * dim],
    v: [v, cols * dim],
    t: [t, 1],
    dlogits: [dlogits, rows * cols],
    du: [du, rows * dim],
    dv: [dv, cols * dim],
    dt: [dt, 1],
  });
  const partials = gpu.storage(
    Math.ceil(rows / TILE) * Math.ceil(dim / TILE),
    "similarity dt partials",
  );
  const params = uniforms(shape);
  return [
    gpu.prepare(SIMILARITY_BACKWARD_U, params, [t, u, v, dlogits, du, partials], grid(rows, dim)),
    gpu.prepare(SIMILARITY_BACKWARD_V, params, [t, u, v, dlogits, dv], grid(cols, dim)),
    gpu.prepare(SIMILARITY_BACKWARD_T, params, [t, partials, dt], 1),
  ];
}

function uniforms(s: SimilarityShape) {
  return [{ u32: s.rows }, { u32: s.cols }, { u32: s.dim }];
}
