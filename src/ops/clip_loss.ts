/**
 * CLIP loss (symmetric cross-entropy against the diagonal) on the GPU
 * (`kernels/clip_loss.wgsl`); twin in `src/reference/clip_loss.ts`.
 *
 * Each call allocates one scratch buffer of `2n` floats (row and column log-sum-exps) that its
 * dispatches keep; the backward recomputes them, so it does not depend on the forward having run.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import { type GpuView, groups, type KernelSpec } from "../gpu/kernel.ts";
import type { ClipLossBackwardShape, ClipLossShape } from "../reference/clip_loss.ts";
import { checkLength } from "./shapes.ts";
import { WORKGROUP_SUM, WORKGROUP_SUM_SIZE } from "./workgroup_sum.ts";

export type { ClipLossBackwardShape, ClipLossShape } from "../reference/clip_loss.ts";

const WG = 64;
const FILE = "clip_loss.wgsl";
const SHAPE = { n: "u32", weight: "f32" } as const;

/** `clip_loss_lse`: the log-sum-exp of each row and column of logits into lse_out (2n). */
export const CLIP_LOSS_LSE: KernelSpec = {
  name: "clip_loss_lse",
  file: FILE,
  libraries: [WORKGROUP_SUM],
  entryPoint: "clip_loss_lse",
  workgroupSize: [WG],
  uniforms: SHAPE,
  bindings: { logits: "read", lse_out: "read_write" },
};

/** `clip_loss_forward`: out[0] = the loss, from logits and lse. One workgroup. */
export const CLIP_LOSS_FORWARD: KernelSpec = {
  name: "clip_loss_forward",
  file: FILE,
  libraries: [WORKGROUP_SUM],
  entryPoint: "clip_loss_forward",
  workgroupSize: WORKGROUP_SUM_SIZE,
  uniforms: SHAPE,
  bindings: { logits: "read", lse: "read", out: "read_write" },
};

/** `clip_loss_backward`: dlogits += the weighted gradient, from logits and lse. */
export const CLIP_LOSS_BACKWARD: KernelSpec = {
  name: "clip_loss_backward",
  file: FILE,
  libraries: [WORKGROUP_SUM],
  entryPoint: "clip_loss_backward",
  workgroupSize: [WG],
  uniforms: SHAPE,
  bindings: { logits: "read", lse: "read", dlogits: "read_write" },
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
): Command[] {
  const { n } = shape;
  checkLength("clip_loss_forward", { logits: [logits, n * n], out: [out, 1] });
  const lse = gpu.storage(2 * n, "clip_loss lse");
  const uniforms = { n, weight: 0 };
  return [
    gpu.prepare(CLIP_LOSS_LSE, { uniforms, bindings: { logits, lse_out: lse } }, groups(2 * n, WG)),
    gpu.prepare(CLIP_LOSS_FORWARD, { uniforms, bindings: { logits, lse, out } }, 1),
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
): Command[] {
  const { n, weight } = shape;
  checkLength("clip_loss_backward", { logits: [logits, n * n], dlogits: [dlogits, n * n] });
  const lse = gpu.storage(2 * n, "clip_loss lse");
  const uniforms = { n, weight };
  return [
    gpu.prepare(CLIP_LOSS_LSE, { uniforms, bindings: { logits, lse_out: lse } }, groups(2 * n, WG)),
    gpu.prepare(
      CLIP_LOSS_BACKWARD,
      { uniforms, bindings: { logits, lse, dlogits } },
      [groups(n, WG), n],
    ),
  ];
}
