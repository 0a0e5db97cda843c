/**
 * Row gather by an index buffer on the GPU (`kernels/gather.wgsl`), for batch assembly of
 * embeddings (f32) and labels (i32, `dim = 1`); twin in `src/reference/gather.ts`.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import type { GpuView, KernelSpec } from "../gpu/kernel.ts";
import { checkGather, type GatherShape } from "../reference/gather.ts";
import { grid2d, GRID_LIBRARY } from "./grid.ts";

export type { GatherShape } from "../reference/gather.ts";

const WG = 256;

/** `gather_rows`: dst = the rows of src that index (u32) names, from `offset` on. */
export const GATHER_ROWS: KernelSpec = {
  name: "gather_rows",
  file: "gather.wgsl",
  libraries: [GRID_LIBRARY],
  entryPoint: "gather_rows",
  workgroupSize: [WG],
  uniforms: { rows: "u32", dim: "u32", offset: "u32", src_rows: "u32" },
  bindings: { src: "read", index: "read", dst: "read_write" },
};

/**
 * Prepares `dst[i, :] = src[index[offset + i], :]` for `i < rows`, a bit-exact copy of 32-bit
 * words (f32 or i32 alike). `src` must hold a whole number of rows; an index outside it gives a
 * row of zeros.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const table = gpu.storage(new Float32Array([10, 11, 20, 21, 30, 31])); // 3 rows of 2
 *   const order = gpu.storage(new Uint32Array([2, 0, 1, 0])); // an epoch's shuffled rows
 *   const batch = gpu.storage(4);
 *   // Batch 1 of 2 rows: rows order[2..4) of the table.
 *   await gpu.run(gatherRows(gpu, table, order, batch, { rows: 2, dim: 2, offset: 2 }));
 *   await gpu.read(batch); // [20, 21, 10, 11]
 * }
 * ```
 */
export function gatherRows(
  gpu: GpuContext,
  src: GpuView,
  index: GpuView,
  dst: GpuView,
  shape: GatherShape,
): Command[] {
  const { rows, dim, offset } = shape;
  const srcRows = checkGather("gather_rows", shape, {
    src: src.length,
    index: index.length,
    dst: dst.length,
  });
  const inputs = {
    uniforms: { rows, dim, offset, src_rows: srcRows },
    bindings: { src, index, dst },
  };
  return [gpu.prepare(GATHER_ROWS, inputs, grid2d(gpu, rows * dim, WG))];
}
