/**
 * Row-wise L2 normalization on the GPU (`kernels/l2norm.wgsl`); twin in
 * `src/reference/l2norm.ts`.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import type { Dispatch, GpuView, KernelSpec } from "../gpu/kernel.ts";
import type { L2NormShape } from "../reference/l2norm.ts";
import { checkLength } from "./shapes.ts";
import { withWorkgroupSum, WORKGROUP_SUM_LIBRARY } from "./workgroup_sum.ts";

export type { L2NormShape } from "../reference/l2norm.ts";

const WG = 64;

/**
 * `l2norm_forward`: uniform, x, y, norm. {@link l2normForward} prepares it with the device's
 * `workgroup_sum` and workgroup size (src/ops/workgroup_sum.ts).
 */
export const L2NORM_FORWARD: KernelSpec = {
  name: "l2norm_forward",
  file: "l2norm.wgsl",
  library: WORKGROUP_SUM_LIBRARY,
  entryPoint: "l2norm_forward",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "write", "write"],
};

/** `l2norm_backward`: uniform, y, norm, dy, dx (accumulated); prepared as `l2norm_forward`. */
export const L2NORM_BACKWARD: KernelSpec = {
  name: "l2norm_backward",
  file: "l2norm.wgsl",
  library: WORKGROUP_SUM_LIBRARY,
  entryPoint: "l2norm_backward",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "read", "read", "write"],
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
 *   await gpu.run([l2normForward(gpu, x, y, norm, { rows: 2, dim: 2, eps: 1e-12 })]);
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
): Dispatch {
  const { rows, dim } = shape;
  checkLength("l2norm_forward", { x: [x, rows * dim], y: [y, rows * dim], norm: [norm, rows] });
  return gpu.prepare(withWorkgroupSum(gpu, L2NORM_FORWARD), uniforms(shape), [x, y, norm], rows);
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
 *   await gpu.run([l2normBackward(gpu, y, norm, dy, dx, { rows: 1, dim: 2, eps: 1e-12 })]);
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
): Dispatch {
  const { rows, dim } = shape;
  const n = rows * dim;
  checkLength("l2norm_backward", { y: [y, n], norm: [norm, rows], dy: [dy, n], dx: [dx, n] });
  const spec = withWorkgroupSum(gpu, L2NORM_BACKWARD);
  return gpu.prepare(spec, uniforms(shape), [y, norm, dy, dx], rows);
}

function uniforms(s: L2NormShape) {
  return [{ u32: s.rows }, { u32: s.dim }, { f32: s.eps }];
}
