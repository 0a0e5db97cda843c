/**
 * The `workgroup_sum` that row-reducing kernels (`l2norm`, `grad_norm`) call, in the variant the
 * device allows: `subgroupAdd` over a workgroup that is exactly one subgroup
 * (`kernels/workgroup_sum_subgroup.wgsl`, where `gpu.info.subgroupSize` is set), else a tree in
 * workgroup memory over 64 invocations (`kernels/workgroup_sum_shared.wgsl`). The kernels stride
 * over their rows by the workgroup size, so either serves every shape.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import type { KernelSpec } from "../gpu/kernel.ts";

/** Workgroup size of the shared-memory variant (a power of two). */
const SHARED_WG = 64;

/**
 * The portable `workgroup_sum` library: every KernelSpec of a file that calls `workgroup_sum`
 * names it (WGSL wants the function defined for every entry point of the file), and
 * {@link withWorkgroupSum} swaps in the device's variant for the entry points that reduce.
 */
export const WORKGROUP_SUM_LIBRARY = "workgroup_sum_shared.wgsl";

/**
 * Invocations per workgroup of a kernel that calls `workgroup_sum`: one subgroup where the device
 * has subgroups, else 64.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   workgroupSumSize(gpu); // gpu.info.subgroupSize (8 or 16 on llvmpipe) or 64
 * }
 * ```
 */
export function workgroupSumSize(gpu: GpuContext): number {
  return gpu.info.subgroupSize || SHARED_WG;
}

/**
 * `spec` with the `workgroup_sum` library for this device and {@link workgroupSumSize} as its
 * workgroup size.
 * @example
 * ```ts
 * import { L2NORM_FORWARD } from "./l2norm.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const spec = withWorkgroupSum(gpu, L2NORM_FORWARD);
 *   spec.library; // "workgroup_sum_subgroup.wgsl" with subgroups, else "workgroup_sum_shared.wgsl"
 *   gpu.pipelines.get(spec); // l2norm.wgsl compiled with that library
 * }
 * ```
 */
export function withWorkgroupSum(gpu: GpuContext, spec: KernelSpec): KernelSpec {
  const library = gpu.info.subgroupSize ? "workgroup_sum_subgroup.wgsl" : WORKGROUP_SUM_LIBRARY;
  return { ...spec, library, workgroupSize: [workgroupSumSize(gpu)] };
}
