/**
 * Row gather by an index buffer on the GPU (`kernels/gather.wgsl`), for batch assembly of
 * embeddings (f32) and labels (i32, `dim = 1`); twin in `src/reference/gather.ts`.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import type { Dispatch, GpuView, KernelSpec } from "../gpu/kernel.ts";
import { checkGather, type GatherShape } from "../reference/gather.ts";
import { grid2d } from "./grid.ts";

export type { GatherShape } from "../reference/gather.ts";

const WG = 256;

/** `gather_rows`: uniform, src, index (u32), dst. */
export const GATHER_ROWS: KernelSpec = {
  name: "gather_rows",
  file: "gather.wgsl",
  entryPoint: "gather_rows",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "read", "write"],
};

/**
 * Prepares `dst[i, :] = src[index[offset + i], :]` for `i < rows`, a bit-exact copy of 32-bit
 * words (f32 or i32 alike). `src` must hold a whole number of rows; an index outside it gives a
 * row of zeros.
 * @example
 * ```ts
 * // Batch b of a shuffled epoch: rows order[b*B .. b*B+B) of the embedding table.
 * // const d = gatherRows(gpu, table, order, batch, { rows: B, dim: 512, offset: b * B });
 * // const l = gatherRows(gpu, labels, order, batchLabels, { rows: B, dim: 1, offset: b * B });
 * ```
 */
export function gatherRows(
  gpu: GpuContext,
  src: GpuView,
  index: GpuView,
  dst: GpuView,
  shape: GatherShape,
): Dispatch {
  const { rows, dim, offset } = shape;
  const srcRows = checkGather("gather_rows", shape, {
    src: src.length,
    index: index.length,
    dst: dst.length,
  });
  const uniforms = [{ u32: rows }, { u32: dim }, { u32: offset }, { u32: srcRows }];
  return gpu.prepare(GATHER_ROWS, uniforms, [src, index, dst], grid2d(gpu, rows * dim, WG));
}
