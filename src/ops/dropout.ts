/**
 * Dropout with a seeded counter-based mask on the GPU (`kernels/dropout.wgsl`); twin in
 * `src/reference/dropout.ts`.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import type { GpuView, KernelSpec, UniformValues } from "../gpu/kernel.ts";
import { type DropoutOptions, dropoutParams } from "../reference/dropout.ts";
import { GRID_LIBRARY } from "./grid.ts";
import { checkLength, quadDispatch } from "./shapes.ts";

export type { DropoutOptions } from "../reference/dropout.ts";

const WG = 256;
const PARAMS = { length: "u32", seed: "u32", threshold: "u32", scale: "f32" } as const;

/** `dropout_forward`: y = x · mask. */
export const DROPOUT_FORWARD: KernelSpec = {
  name: "dropout_forward",
  file: "dropout.wgsl",
  libraries: [GRID_LIBRARY],
  entryPoint: "dropout_forward",
  workgroupSize: [WG],
  uniforms: PARAMS,
  bindings: { x: "read", y: "read_write" },
};

/** `dropout_backward`: dx += dy · mask. */
export const DROPOUT_BACKWARD: KernelSpec = {
  name: "dropout_backward",
  file: "dropout.wgsl",
  libraries: [GRID_LIBRARY],
  entryPoint: "dropout_backward",
  workgroupSize: [WG],
  uniforms: PARAMS,
  bindings: { dy: "read", dx: "read_write" },
};

/**
 * The uniforms of a dropout dispatch. A training loop that prepares its dispatches once rewrites
 * them each step with a new seed: `gpu.writeUniforms(d, dropoutUniforms(opts))` (same `length` as
 * when prepared).
 * @example
 * ```ts
 * dropoutUniforms({ length: 1024, p: 0.1, seed: 42 }); // { length: 1024, seed: 42, threshold: 1677722, scale: 1.111… }
 * ```
 */
export function dropoutUniforms(opts: DropoutOptions): UniformValues {
  const { threshold, scale } = dropoutParams("dropout", opts);
  return { length: opts.length, seed: opts.seed, threshold, scale };
}

/**
 * Prepares `y = x · mask / (1 - p)` with the mask drawn from (seed, index).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const x = gpu.storage(new Float32Array(8).fill(1)), y = gpu.storage(8);
 *   await gpu.run(dropoutForward(gpu, x, y, { length: 8, p: 0.5, seed: 7 }));
 *   await gpu.read(y); // each 0 or 2 (= 1 / (1 - p)); the mask depends only on (seed, index)
 * }
 * ```
 */
export function dropoutForward(
  gpu: GpuContext,
  x: GpuView,
  y: GpuView,
  opts: DropoutOptions,
): Command[] {
  const { length } = opts;
  checkLength("dropout_forward", { x: [x, length], y: [y, length] });
  const { views, grid } = quadDispatch(gpu, "dropout_forward", { x, y }, length, WG);
  return [gpu.prepare(DROPOUT_FORWARD, { uniforms: dropoutUniforms(opts), bindings: views }, grid)];
}

/**
 * Prepares `dx += dy · mask / (1 - p)`, recomputing the forward's mask (pass the same seed).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const dy = gpu.storage(new Float32Array(8).fill(1)), dx = gpu.storage(8); // dx accumulates
 *   await gpu.run(dropoutBackward(gpu, dy, dx, { length: 8, p: 0.5, seed: 7 })); // same seed
 *   await gpu.read(dx); // 2 where the forward kept x, else 0
 * }
 * ```
 */
export function dropoutBackward(
  gpu: GpuContext,
  dy: GpuView,
  dx: GpuView,
  opts: DropoutOptions,
): Command[] {
  const { length } = opts;
  checkLength("dropout_backward", { dy: [dy, length], dx: [dx, length] });
  const { views, grid } = quadDispatch(gpu, "dropout_backward", { dy, dx }, length, WG);
  return [
    gpu.prepare(DROPOUT_BACKWARD, { uniforms: dropoutUniforms(opts), bindings: views }, grid),
  ];
}
