/**
 * Global gradient norm on the GPU (`kernels/grad_norm.wgsl`), the input of AdamW's gradient
 * clipping; twin in `src/reference/grad_norm.ts`.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import type { Dispatch, GpuView, KernelSpec } from "../gpu/kernel.ts";
import type { GradNormShape } from "../reference/grad_norm.ts";
import { checkLength, quadDispatch } from "./shapes.ts";
import { withWorkgroupSum, WORKGROUP_SUM_LIBRARY, workgroupSumSize } from "./workgroup_sum.ts";

export type { GradNormShape } from "../reference/grad_norm.ts";

const WG = 64;
/** Elements each invocation of the first pass sums. */
const CHUNK = 128;

/**
 * `grad_norm_partial`: uniform, x, partials (one per workgroup). {@link gradNorm} prepares it with
 * the device's `workgroup_sum` and workgroup size (src/ops/workgroup_sum.ts).
 */
export const GRAD_NORM_PARTIAL: KernelSpec = {
  name: "grad_norm_partial",
  file: "grad_norm.wgsl",
  library: WORKGROUP_SUM_LIBRARY,
  entryPoint: "grad_norm_partial",
  workgroupSize: [WG],
  constants: { CHUNK },
  bindings: ["uniform", "read", "write"],
};

/** `grad_norm_final`: uniform, partials, out (one element); prepared as `grad_norm_partial`. */
export const GRAD_NORM_FINAL: KernelSpec = {
  name: "grad_norm_final",
  file: "grad_norm.wgsl",
  library: WORKGROUP_SUM_LIBRARY,
  entryPoint: "grad_norm_final",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "write"],
};

/**
 * Prepares the two passes that write `sqrt(sum x²)` over `length` elements to `out[0]`. Each
 * call allocates a small scratch buffer (one float per workgroup, which covers 128 quads per
 * invocation: 8,192 elements with 16-lane subgroups, 32,768 with 64 invocations): prepare once,
 * encode
 * every step.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const grads = gpu.storage(new Float32Array([3, 4])), norm = gpu.storage(1);
 *   await gpu.run(gradNorm(gpu, grads, norm, { length: 2 })); // then AdamW, in the same encoder
 *   await gpu.read(norm); // [5]
 * }
 * ```
 */
export function gradNorm(
  gpu: GpuContext,
  x: GpuView,
  out: GpuView,
  shape: GradNormShape,
): Dispatch[] {
  const { length } = shape;
  checkLength("grad_norm", { x: [x, length], out: [out, 1] });
  const perGroup = CHUNK * workgroupSumSize(gpu);
  const { views, grid } = quadDispatch(gpu, "grad_norm", { x }, length, perGroup);
  const count = grid[0] * grid[1];
  const partials = gpu.storage(count, "grad_norm partials");
  return [
    gpu.prepare(withWorkgroupSum(gpu, GRAD_NORM_PARTIAL), [{ u32: length }], [
      ...views,
      partials,
    ], grid),
    gpu.prepare(withWorkgroupSum(gpu, GRAD_NORM_FINAL), [{ u32: count }], [partials, out], 1),
  ];
}
