/**
 * The `workgroup_sum` that row-reducing kernels (`l2norm`, `grad_norm`, the losses) call, in the
 * variant the device allows: `subgroupAdd` over a workgroup that is exactly one subgroup
 * (`kernels/workgroup_sum_subgroup.wgsl`, where `gpu.info.subgroupSize` is set), else a tree in
 * workgroup memory over 64 invocations (`kernels/workgroup_sum_shared.wgsl`). The kernels stride
 * over their rows by the workgroup size, so either serves every shape.
 *
 * @module
 */

import type { GpuInfo } from "../gpu/context.ts";
import type { PerDevice } from "../gpu/kernel.ts";

/** Workgroup size of the shared-memory variant (a power of two). */
const SHARED_WG = 64;

/**
 * The `workgroup_sum` library for the device: every KernelSpec of a file that calls
 * `workgroup_sum` names it (WGSL wants the function defined for every entry point of the file);
 * the entry points that call it take {@link WORKGROUP_SUM_SIZE} as their workgroup size.
 * @example
 * ```ts
 * import { forDevice } from "../gpu/kernel.ts";
 * const info = { name: "llvmpipe", backend: "vulkan", isFallback: true, softwareGl: false };
 * forDevice(WORKGROUP_SUM, { ...info, subgroupSize: 16 }); // "workgroup_sum_subgroup.wgsl"
 * forDevice(WORKGROUP_SUM, { ...info, subgroupSize: 0 }); // "workgroup_sum_shared.wgsl"
 * ```
 */
export const WORKGROUP_SUM: PerDevice<string> = (info: GpuInfo) =>
  info.subgroupSize ? "workgroup_sum_subgroup.wgsl" : "workgroup_sum_shared.wgsl";

/**
 * Workgroup size of a kernel that calls `workgroup_sum`: one subgroup where the device has
 * subgroups, else 64.
 * @example
 * ```ts
 * import { forDevice } from "../gpu/kernel.ts";
 * const info = { name: "llvmpipe", backend: "vulkan", isFallback: true, softwareGl: false };
 * forDevice(WORKGROUP_SUM_SIZE, { ...info, subgroupSize: 16 }); // [16]
 * forDevice(WORKGROUP_SUM_SIZE, { ...info, subgroupSize: 0 }); // [64]
 * ```
 */
export const WORKGROUP_SUM_SIZE: PerDevice<readonly number[]> = (info: GpuInfo) => [
  info.subgroupSize || SHARED_WG,
];
