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

import type { Command, GpuContext } from "../gpu/context.ts";
import { forDevice, type GpuView, type KernelSpec } from "../gpu/kernel.ts";
import type { SimilarityShape } from "../reference/similarity.ts";
import { FilledTextures, gemm } from "./gemm.ts";
import { GRID_LIBRARY } from "./grid.ts";
import { checkLength, quadDispatch } from "./shapes.ts";
import { WORKGROUP_SUM, WORKGROUP_SUM_SIZE } from "./workgroup_sum.ts";

export type { SimilarityShape } from "../reference/similarity.ts";

/** Workgroup size of the scaling pass. */
const WG_SCALE = 64;
/** Quads each invocation of the backward passes adds. */
const CHUNK = 4;

const FILE = "similarity.wgsl";
const LIBRARIES = [GRID_LIBRARY, WORKGROUP_SUM];

/** `similarity_forward`: logits *= s in place (after the GEMM wrote U·Vᵀ there); s from t. */
export const SIMILARITY_FORWARD: KernelSpec = {
  name: "similarity_forward",
  file: FILE,
  libraries: LIBRARIES,
  entryPoint: "similarity_forward",
  workgroupSize: [WG_SCALE],
  uniforms: { length: "u32" },
  bindings: { t: "read", logits: "read_write" },
};

/**
 * `similarity_backward_u`: grad (du) += s · product (G = dL V, from the GEMM), and one partial
 * sum of U ⊙ G per workgroup into partials_out (for dt).
 */
export const SIMILARITY_BACKWARD_U: KernelSpec = {
  name: "similarity_backward_u",
  file: FILE,
  libraries: LIBRARIES,
  entryPoint: "similarity_backward_u",
  workgroupSize: WORKGROUP_SUM_SIZE,
  constants: { CHUNK },
  uniforms: { length: "u32" },
  bindings: {
    t: "read",
    u: "read",
    product: "read",
    grad: "read_write",
    partials_out: "read_write",
  },
};

/** `similarity_backward_v`: grad (dv) += s · product (H = dLᵀ U); u is bound but unread. */
export const SIMILARITY_BACKWARD_V: KernelSpec = {
  name: "similarity_backward_v",
  file: FILE,
  libraries: LIBRARIES,
  entryPoint: "similarity_backward_v",
  workgroupSize: WORKGROUP_SUM_SIZE,
  constants: { CHUNK },
  uniforms: { length: "u32" },
  bindings: { t: "read", u: "read", product: "read", grad: "read_write" },
};

/** `similarity_backward_t`: dt += s · the sum of the `length` partials, below the cap. */
export const SIMILARITY_BACKWARD_T: KernelSpec = {
  name: "similarity_backward_t",
  file: FILE,
  libraries: LIBRARIES,
  entryPoint: "similarity_backward_t",
  workgroupSize: WORKGROUP_SUM_SIZE,
  uniforms: { length: "u32" },
  bindings: { t: "read", partials: "read", dt: "read_write" },
};

/**
 * Prepares `logits[i, j] = s (u_i · v_j)`, `s = min(exp(t[0]), 100)`; `u` is `[rows, dim]`, `v`
 * `[cols, dim]`, `logits` `[rows, cols]`, `t` one element.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const u = gpu.storage(new Float32Array([1, 0, 0, 1])); // 2 unit rows
 *   const v = gpu.storage(new Float32Array([0.6, 0.8, 1, 0]));
 *   const t = gpu.storage(new Float32Array([Math.log(10)])), logits = gpu.storage(4); // s = 10
 *   await gpu.runOnce(() => similarityForward(gpu, u, v, t, logits, { rows: 2, cols: 2, dim: 2 }));
 *   await gpu.read(logits); // ≈ [6, 10, 8, 0]
 * }
 * ```
 */
export function similarityForward(
  gpu: GpuContext,
  u: GpuView,
  v: GpuView,
  t: GpuView,
  logits: GpuView,
  shape: SimilarityShape,
): Command[] {
  const { rows, cols, dim } = shape;
  checkLength("similarity_forward", {
    u: [u, rows * dim],
    v: [v, cols * dim],
    t: [t, 1],
    logits: [logits, rows * cols],
  });
  // P = U·Vᵀ on the GEMM (a zero bias makes its first reduction chunk overwrite the logits), then
  // logits = s·P in place.
  const zeros = gpu.storage(cols, "similarity zero bias");
  const um = { src: u, rows, cols: dim, transposed: false };
  const vt = { src: v, rows: dim, cols, transposed: true };
  return [
    ...gemm(gpu, "similarity_forward U·Vᵀ", um, vt, zeros, logits),
    scaled(gpu, t, logits, rows * cols),
  ];
}

/**
 * Prepares the accumulating backward: `du += s dL V`, `dv += s dLᵀ U` and
 * `dt[0] += s Σ dL ⊙ (U Vᵀ)` while `exp(t) < 100` (nothing once the cap holds). The products
 * `G = dL V` and `H = dLᵀ U` run on the GEMM ({@link gemm}, every operand packed
 * into a texture) into one scratch buffer; elementwise passes then add
 * `s G` to du (writing per-workgroup partial sums of `U ⊙ G` for dt) and `s H` to dv, and one
 * workgroup sums the partials into dt. The scratch buffers and textures are allocated
 * once by this call (through {@link GpuContext.storage} and friends) and the dispatches keep them.
 *
 * `du` and `dv` may be the same view (the passes run one after the other), which gives
 * `du += s (dL + dLᵀ) U` when `u` and `v` are the same rows.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const shape = { rows: 1, cols: 1, dim: 2 };
 *   const u = gpu.storage(new Float32Array([1, 0])), v = gpu.storage(new Float32Array([0.5, 0.5]));
 *   const t = gpu.storage(new Float32Array([0])), dlogits = gpu.storage(new Float32Array([1]));
 *   const du = gpu.storage(2), dv = gpu.storage(2), dt = gpu.storage(1); // all accumulate
 *   await gpu.runOnce(() => similarityBackward(gpu, u, v, t, dlogits, du, dv, dt, shape));
 *   await gpu.readMany([du, dv, dt]); // [[0.5, 0.5], [1, 0], [0.5]]
 * }
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
): Command[] {
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
  // G, then H, overwrite the scratch: the GEMM's first reduction chunk stores A·B + 0.
  const product = gpu.storage(Math.max(rows, cols) * dim, "similarity backward product");
  const zeros = gpu.storage(dim, "similarity zero bias");
  const dl = { src: dlogits, rows, cols, transposed: false };
  const dlt = { src: dlogits, rows: cols, cols: rows, transposed: true };
  const um = { src: u, rows, cols: dim, transposed: false };
  const vm = { src: v, rows: cols, cols: dim, transposed: false };
  const [wg] = forDevice(SIMILARITY_BACKWARD_U.workgroupSize, gpu.info);
  const gu = quadDispatch(gpu, "similarity_backward_u", { u, product, du }, rows * dim, CHUNK * wg);
  const gv = quadDispatch(gpu, "similarity_backward_v", { product, dv }, cols * dim, CHUNK * wg);
  const count = gu.grid[0] * gu.grid[1];
  const partials = gpu.storage(count, "similarity dt partials");
  // dL's texture serves both products (as A, and read transposed as A of the second).
  const textures = new FilledTextures(gpu);
  const { u: uq } = gu.views;
  return [
    ...gemm(gpu, "similarity_backward dL·V", dl, vm, zeros, product, textures),
    gpu.prepare(SIMILARITY_BACKWARD_U, {
      uniforms: { length: rows * dim },
      bindings: { t, u: uq, product: gu.views.product, grad: gu.views.du, partials_out: partials },
    }, gu.grid),
    ...gemm(gpu, "similarity_backward dLᵀ·U", dlt, um, zeros, product, textures),
    gpu.prepare(SIMILARITY_BACKWARD_V, {
      uniforms: { length: cols * dim },
      bindings: { t, u: uq, product: gv.views.product, grad: gv.views.dv },
    }, gv.grid),
    gpu.prepare(SIMILARITY_BACKWARD_T, {
      uniforms: { length: count },
      bindings: { t, partials, dt },
    }, 1),
  ];
}

/** `logits *= s` over `length` elements, in place (the GEMM wrote U·Vᵀ there). */
function scaled(gpu: GpuContext, t: GpuView, logits: GpuView, length: number): Command {
  const { views, grid } = quadDispatch(gpu, "similarity_forward", { logits }, length, WG_SCALE);
  return gpu.prepare(SIMILARITY_FORWARD, { uniforms: { length }, bindings: { t, ...views } }, grid);
}
