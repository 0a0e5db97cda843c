/**
 * Global gradient norm on the GPU (`kernels/grad_norm.wgsl`), the input of AdamW's gradient
 * clipping; twin in `src/reference/grad_norm.ts`.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import { forDevice, type GpuView, type KernelSpec } from "../gpu/kernel.ts";
import type { GradNormShape } from "../reference/grad_norm.ts";
import { GRID_LIBRARY } from "./grid.ts";
import { checkLength, quadDispatch } from "./shapes.ts";
import { WORKGROUP_SUM, WORKGROUP_SUM_SIZE } from "./workgroup_sum.ts";

export type { GradNormShape } from "../reference/grad_norm.ts";

/** Elements each invocation of the first pass sums. */
const CHUNK = 128;

/** `grad_norm_partial`: the sum of x² over each workgroup's share into partials_out. */
export const GRAD_NORM_PARTIAL: KernelSpec = {
  name: "grad_norm_partial",
  file: "grad_norm.wgsl",
  libraries: [GRID_LIBRARY, WORKGROUP_SUM],
  entryPoint: "grad_norm_partial",
  workgroupSize: WORKGROUP_SUM_SIZE,
  constants: { CHUNK },
  uniforms: { length: "u32" },
  bindings: { x: "read", partials_out: "read_write" },
};

/** `grad_norm_final`: out[0] = the square root of the sum of the `length` partials. */
export const GRAD_NORM_FINAL: KernelSpec = {
  name: "grad_norm_final",
  file: "grad_norm.wgsl",
  libraries: [GRID_LIBRARY, WORKGROUP_SUM],
  entryPoint: "grad_norm_final",
  workgroupSize: WORKGROUP_SUM_SIZE,
  uniforms: { length: "u32" },
  bindings: { partials: "read", out: "read_write" },
};

/**
 * Prepares the two passes that write `sqrt(sum x²)` over `length` elements to `out[0]`. Each
 * call allocates a small scratch buffer (one float per workgroup, which covers 128 quads per
 * invocation: 8,192 elements with 16-lane subgroups, 32,768 with 64 invocations): prepare once,
 * encode every step.
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
): Command[] {
  const { length } = shape;
  checkLength("grad_norm", { x: [x, length], out: [out, 1] });
  const [wg] = forDevice(GRAD_NORM_PARTIAL.workgroupSize, gpu.info);
  const { views, grid } = quadDispatch(gpu, "grad_norm", { x }, length, CHUNK * wg);
  const count = grid[0] * grid[1];
  const partials = gpu.storage(count, "grad_norm partials");
  return [
    gpu.prepare(
      GRAD_NORM_PARTIAL,
      { uniforms: { length }, bindings: { ...views, partials_out: partials } },
      grid,
    ),
    gpu.prepare(GRAD_NORM_FINAL, { uniforms: { length: count }, bindings: { partials, out } }, 1),
  ];
}
