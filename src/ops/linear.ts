/**
 * Linear layer `y = x·W + b` (W stored `[inDim, outDim]` row-major) and its accumulating backward
 * on the GPU; twin in `src/reference/linear.ts`. Every product is one {@link gemm}
 * (`kernels/gemm.wgsl`); `kernels/linear.wgsl` adds dy's column sums to db, reading the texture
 * dy was packed into for the products.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import type { GpuView, KernelSpec } from "../gpu/kernel.ts";
import { groups } from "../gpu/kernel.ts";
import type { LinearShape } from "../reference/linear.ts";
import { FilledTextures, gemm } from "./gemm.ts";
import { checkLength } from "./shapes.ts";

export type { LinearShape } from "../reference/linear.ts";

const BIAS_WG = 8;

/** `linear_bias_backward`: db += the column sums of dy, read from its texture (a chunk of rows). */
export const LINEAR_BIAS_BACKWARD: KernelSpec = {
  name: "linear_bias_backward",
  file: "linear.wgsl",
  entryPoint: "linear_bias_backward",
  workgroupSize: [BIAS_WG],
  uniforms: { rows: "u32", cols: "u32" },
  bindings: { dy: "read-texture", db: "read_write" },
};

/**
 * Prepares `y = x·W + b` (overwrites y): x `[rows, inDim]`, w `[inDim, outDim]`, b `[outDim]`,
 * y `[rows, outDim]`, all row-major.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const x = gpu.storage(new Float32Array([1, 2]));
 *   const w = gpu.storage(new Float32Array([1, 0, 0, 1]));
 *   const b = gpu.storage(new Float32Array([0.5, 0])), y = gpu.storage(2);
 *   // runOnce frees the operand textures the op allocates; training prepares once and reuses.
 *   await gpu.runOnce(() => linearForward(gpu, x, w, b, y, { rows: 1, inDim: 2, outDim: 2 }));
 *   await gpu.read(y); // [1.5, 2]
 * }
 * ```
 */
export function linearForward(
  gpu: GpuContext,
  x: GpuView,
  w: GpuView,
  b: GpuView,
  y: GpuView,
  shape: LinearShape,
): Command[] {
  const { rows: M, inDim: K, outDim: N } = checkShape("linear_forward", shape);
  checkLength("linear_forward", { x: [x, M * K], w: [w, K * N], b: [b, N], y: [y, M * N] });
  const xm = { src: x, rows: M, cols: K, transposed: false };
  return gemm(gpu, "linear_forward", xm, { src: w, rows: K, cols: N, transposed: false }, b, y);
}

/**
 * Prepares the accumulating backward: `dx += dy·Wᵀ` (skipped when `dx` is null, e.g. for a
 * frozen input embedding), `dw += xᵀ·dy`, `db += column sums of dy`.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const shape = { rows: 1, inDim: 2, outDim: 1 };
 *   const x = gpu.storage(new Float32Array([1, 2])), w = gpu.storage(new Float32Array([3, 4]));
 *   const dy = gpu.storage(new Float32Array([1]));
 *   const dx = gpu.storage(2), dw = gpu.storage(2), db = gpu.storage(1); // all accumulate
 *   await gpu.runOnce(() => linearBackward(gpu, x, w, dy, dx, dw, db, shape));
 *   await gpu.readMany([dx, dw, db]); // [[3, 4], [1, 2], [1]]
 * }
 * ```
 */
export function linearBackward(
  gpu: GpuContext,
  x: GpuView,
  w: GpuView,
  dy: GpuView,
  dx: GpuView | null,
  dw: GpuView,
  db: GpuView,
  shape: LinearShape,
): Command[] {
  const { rows: M, inDim: K, outDim: N } = checkShape("linear_backward", shape);
  checkLength("linear_backward", {
    x: [x, M * K],
    w: [w, K * N],
    dy: [dy, M * N],
    ...(dx ? { dx: [dx, M * K] as const } : {}),
    dw: [dw, K * N],
    db: [db, N],
  });
  const dym = { src: dy, rows: M, cols: N, transposed: false };
  // dy's blocks feed db, dw (as B) and dx (as A): each is filled once.
  const textures = new FilledTextures(gpu);
  const out: Command[] = [];
  for (const { rows, view } of textures.rowBlocks(out, "linear_backward dy", dy, M, N)) {
    const inputs = { uniforms: { rows: rows.length, cols: N }, bindings: { dy: view, db } };
    out.push(gpu.prepare(LINEAR_BIAS_BACKWARD, inputs, groups(Math.ceil(N / 4), BIAS_WG)));
  }
  const xt = { src: x, rows: K, cols: M, transposed: true };
  out.push(...gemm(gpu, "linear_backward dw", xt, dym, null, dw, textures));
  if (dx) {
    const wt = { src: w, rows: N, cols: K, transposed: true };
    out.push(...gemm(gpu, "linear_backward dx", dym, wt, null, dx, textures));
  }
  return out;
}

function checkShape(kernel: string, shape: LinearShape): LinearShape {
  for (const key of ["rows", "inDim", "outDim"] as const) {
    const v = shape[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`${kernel}: shape.${key} must be an integer >= 1, got ${v}`);
    }
  }
  return shape;
}
