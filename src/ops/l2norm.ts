/**
 * Row-wise L2 normalization on the GPU (`kernels/l2norm.wgsl`); twin in
 * `src/reference/l2norm.ts`.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import type { GpuView, KernelSpec } from "../gpu/kernel.ts";
import type { L2NormShape } from "../reference/l2norm.ts";
import { checkLength } from "./shapes.ts";
import { WORKGROUP_SUM, WORKGROUP_SUM_SIZE } from "./workgroup_sum.ts";

export type { L2NormShape } from "../reference/l2norm.ts";

const SHAPE = { rows: "u32", dim: "u32", eps: "f32" } as const;

/** `l2norm_forward`: the rows of x normalized into y_out, their norms into norm_out. */
export const L2NORM_FORWARD: KernelSpec = {
  name: "l2norm_forward",
  file: "l2norm.wgsl",
  libraries: [WORKGROUP_SUM],
  entryPoint: "l2norm_forward",
  workgroupSize: WORKGROUP_SUM_SIZE,
  uniforms: SHAPE,
  bindings: { x: "read", y_out: "read_write", norm_out: "read_write" },
};

/** `l2norm_backward`: dx += the gradient through the normalization, from y, norm and dy. */
export const L2NORM_BACKWARD: KernelSpec = {
  name: "l2norm_backward",
  file: "l2norm.wgsl",
  libraries: [WORKGROUP_SUM],
  entryPoint: "l2norm_backward",
  workgroupSize: WORKGROUP_SUM_SIZE,
  uniforms: SHAPE,
  bindings: { y: "read", norm: "read", dy: "read", dx: "read_write" },
};

/**
 * Prepares `y = x / max(|x|, eps)`, `norm = |x|` per row.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const x = gpu.storage(new Float32Array([3, 4, 0, 2])); // 2 rows of 2
 *   const y = gpu.storage(4), norm = gpu.storage(2);
 *   await gpu.run(l2normForward(gpu, x, y, norm, { rows: 2, dim: 2, eps: 1e-12 }));
 *   await gpu.readMany([y, norm]); // [[0.6, 0.8, 0, 1], [5, 2]]
 * }
 * ```
 */
export function l2normForward(
  gpu: GpuContext,
  x: GpuView,
  y: GpuView,
  norm: GpuView,
  shape: L2NormShape,
): Command[] {
  const { rows, dim, eps } = shape;
  checkLength("l2norm_forward", { x: [x, rows * dim], y: [y, rows * dim], norm: [norm, rows] });
  const inputs = { uniforms: { rows, dim, eps }, bindings: { x, y_out: y, norm_out: norm } };
  return [gpu.prepare(L2NORM_FORWARD, inputs, rows)];
}

/**
 * Prepares `dx += (dy - y (y·dy)) / |x|` per row.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const y = gpu.storage(new Float32Array([0.6, 0.8])), norm = gpu.storage(new Float32Array([5]));
 *   const dy = gpu.storage(new Float32Array([1, 0])), dx = gpu.storage(2); // dx accumulates
 *   await gpu.run(l2normBackward(gpu, y, norm, dy, dx, { rows: 1, dim: 2, eps: 1e-12 }));
 *   await gpu.read(dx); // [0.128, -0.096] = (dy - y (y · dy)) / norm
 * }
 * ```
 */
export function l2normBackward(
  gpu: GpuContext,
  y: GpuView,
  norm: GpuView,
  dy: GpuView,
  dx: GpuView,
  shape: L2NormShape,
): Command[] {
  const { rows, dim, eps } = shape;
  const n = rows * dim;
  checkLength("l2norm_backward", { y: [y, n], norm: [norm, rows], dy: [dy, n], dx: [dx, n] });
  const inputs = { uniforms: { rows, dim, eps }, bindings: { y, norm, dy, dx } };
  return [gpu.prepare(L2NORM_BACKWARD, inputs, rows)];
}
