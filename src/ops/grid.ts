/**
 * Workgroup grids for kernels over a flat range of items. A 1-D grid stops at the device's
 * `maxComputeWorkgroupsPerDimension` (65,535): past that the groups are laid out in 2-D, and the
 * WGSL recovers the flat index with `flat_index` (`kernels/grid.wgsl`,
 * `(wid.y * num_workgroups.x + wid.x) * WG_X + lid.x`), checking it against the item count (the
 * 2-D grid may cover a few groups too many).
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import { groups } from "../gpu/kernel.ts";

/**
 * The WGSL library of grid and quad indices (`kernels/grid.wgsl`: `flat_group`, `flat_index`,
 * `quad_index`, `quad_live`) for the `libraries` of a kernel that uses them.
 * @example
 * ```ts
 * import type { KernelSpec } from "../gpu/kernel.ts";
 * const spec: KernelSpec = {
 *   name: "gelu_forward",
 *   file: "gelu.wgsl",
 *   libraries: [GRID_LIBRARY],
 *   entryPoint: "gelu_forward",
 *   workgroupSize: [256],
 *   uniforms: { length: "u32" },
 *   bindings: { x: "read", y: "read_write" },
 * };
 * ```
 */
export const GRID_LIBRARY = "grid.wgsl";

/**
 * A 1-D or 2-D grid `[x, y]` of at least `groups(n, perGroup)` workgroups, each side within the
 * device limit.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   grid2d(gpu, 10_000_000, 256); // [39063, 1]
 *   grid2d(gpu, 20_000_000, 256); // [39063, 2] with the usual limit of 65,535 groups a side
 * }
 * ```
 */
export function grid2d(gpu: GpuContext, n: number, perGroup: number): [number, number] {
  const total = groups(n, perGroup);
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (total <= max) return [total, 1];
  const y = Math.ceil(total / max);
  if (y > max) {
    throw new RangeError(`grid2d: ${n} items need ${total} workgroups, more than ${max}²`);
  }
  return [Math.ceil(total / y), y];
}
