/**
 * CLIP loss (symmetric cross-entropy against the diagonal) on the GPU
 * (`kernels/clip_loss.wgsl`); twin in `src/reference/clip_loss.ts`.
 *
 * Each call allocates one scratch buffer of `2n` floats (row and column log-sum-exps) that its
 * dispatches keep; the backward recomputes them, so it does not depend on the forward having run.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import { type Dispatch, type GpuView, groups, type KernelSpec } from "../gpu/kernel.ts";
import type { ClipLossBackwardShape, ClipLossShape } from "../reference/clip_loss.ts";
import { checkLength } from "./shapes.ts";
import { withWorkgroupSum, WORKGROUP_SUM_LIBRARY } from "./workgroup_sum.ts";

export type { ClipLossBackwardShape, ClipLossShape } from "../reference/clip_loss.ts";

const WG = 64;
const FILE = "clip_loss.wgsl";

/** `clip_loss_lse`: uniform, logits, lse (2n: rows then columns). */
export const CLIP_LOSS_LSE: KernelSpec = {
  name: "clip_loss_lse",
  file: FILE,
  library: WORKGROUP_SUM_LIBRARY,
  entryPoint: "clip_loss_lse",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "write"],
};

/** `clip_loss_forward`: uniform, logits, lse, out. One workgroup. */
export const CLIP_LOSS_FORWARD: KernelSpec = {
  name: "clip_loss_forward",
  file: FILE,
  library: WORKGROUP_SUM_LIBRARY,
  entryPoint: "clip_loss_forward",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "read", "write"],
};

/** `clip_loss_backward`: uniform, logits, lse, dlogits (accumulated). */
export const CLIP_LOSS_BACKWARD: KernelSpec = {
  name: "clip_loss_backward",
  file: FILE,
  library: WORKGROUP_SUM_LIBRARY,
  entryPoint: "clip_loss_backward",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "read", "write"],
};

/**
 * Prepares `out[0] = ½ (mean_i CE(row i, i) + mean_j CE(column j, j))` over the `n x n`
 * `logits` (two passes).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const logits = gpu.storage(new Float32Array([2, 0, 0, 2])), loss = gpu.storage(1); // 2 pairs
 *   await gpu.run(clipLossForward(gpu, logits, loss, { n: 2 }));
 *   await gpu.read(loss); // ≈ [0.1269] = log(1 + e⁻²)
 * }
 * ```
 */
export function clipLossForward(
  gpu: GpuContext,
  logits: GpuView,
  out: GpuView,
  shape: ClipLossShape,
): Dispatch[] {
  const { n } = shape;
  checkLength("clip_loss_forward", { logits: [logits, n * n], out: [out, 1] });
  const lse = gpu.storage(2 * n, "clip_loss lse");
  const u = uniforms(n, 0);
  return [
    gpu.prepare(CLIP_LOSS_LSE, u, [logits, lse], groups(2 * n, WG)),
    gpu.prepare(withWorkgroupSum(gpu, CLIP_LOSS_FORWARD), u, [logits, lse, out], 1),
  ];
}

/**
 * Prepares `dlogits += weight (softmax_rows - I + softmax_cols - I) / (2n)` (two passes);
 * `weight` is the loss weight times the upstream gradient.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const logits = gpu.storage(new Float32Array([2, 0, 0, 2])), dlogits = gpu.storage(4);
 *   await gpu.run(clipLossBackward(gpu, logits, dlogits, { n: 2, weight: 1 }));
 *   await gpu.read(dlogits); // ≈ [-0.0596, 0.0596, 0.0596, -0.0596]
 * }
 * ```
 */
export function clipLossBackward(
  gpu: GpuContext,
  logits: GpuView,
  dlogits: GpuView,
  shape: ClipLossBackwardShape,
): Dispatch[] {
  const { n, weight } = shape;
  checkLength("clip_loss_backward", { logits: [logits, n * n], dlogits: [dlogits, n * n] });
  const lse = gpu.storage(2 * n, "clip_loss lse");
  const u = uniforms(n, weight);
  return [
    gpu.prepare(CLIP_LOSS_LSE, u, [logits, lse], groups(2 * n, WG)),
    gpu.prepare(CLIP_LOSS_BACKWARD, u, [logits, lse, dlogits], [groups(n, WG), n]),
  ];
}

function uniforms(n: number, weight: number) {
  return [{ u32: n }, { f32: weight }];
}
