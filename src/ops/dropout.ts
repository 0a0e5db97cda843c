/**
 * Dropout with a seeded counter-based mask on the GPU (`kernels/dropout.wgsl`); twin in
 * `src/reference/dropout.ts`.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import type { Dispatch, GpuView, KernelSpec, UniformField } from "../gpu/kernel.ts";
import { type DropoutOptions, dropoutParams } from "../reference/dropout.ts";
import { checkLength, quadDispatch } from "./shapes.ts";

export type { DropoutOptions } from "../reference/dropout.ts";

const WG = 256;

/** `dropout_forward`: uniform, x, y. */
export const DROPOUT_FORWARD: KernelSpec = {
  name: "dropout_forward",
  file: "dropout.wgsl",
  entryPoint: "dropout_forward",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "write"],
};

/** `dropout_backward`: uniform, dy, dx (accumulated). */
export const DROPOUT_BACKWARD: KernelSpec = {
  name: "dropout_backward",
  file: "dropout.wgsl",
  entryPoint: "dropout_backward",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "write"],
};

/**
 * The uniforms of a dropout dispatch. A training loop that prepares its dispatches once rewrites
 * them each step with a new seed: `writeUniforms(gpu.device, d, dropoutUniforms(opts))` (same
 * `length` as when prepared).
 * @example
 * ```ts
 * dropoutUniforms({ length: 1024, p: 0.1, seed: 42 });
 * ```
 */
export function dropoutUniforms(opts: DropoutOptions): UniformField[] {
  const { threshold, scale } = dropoutParams("dropout", opts);
  return [{ u32: opts.length }, { u32: opts.seed }, { u32: threshold }, { f32: scale }];
}

/**
 * Prepares `y = x · mask / (1 - p)` with the mask drawn from (seed, index).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const x = gpu.storage(new Float32Array(8).fill(1)), y = gpu.storage(8);
 *   await gpu.run([dropoutForward(gpu, x, y, { length: 8, p: 0.5, seed: 7 })]);
 *   await gpu.read(y); // each 0 or 2 (= 1 / (1 - p)); the mask depends only on (seed, index)
 * }
 * ```
 */
export function dropoutForward(
  gpu: GpuContext,
  x: GpuView,
  y: GpuView,
  opts: DropoutOptions,
): Dispatch {
  const { length } = opts;
  checkLength("dropout_forward", { x: [x, length], y: [y, length] });
  const { views, grid } = quadDispatch(gpu, "dropout_forward", { x, y }, length, WG);
  return gpu.prepare(DROPOUT_FORWARD, dropoutUniforms(opts), views, grid);
}

/**
 * Prepares `dx += dy · mask / (1 - p)`, recomputing the forward's mask (pass the same seed).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const dy = gpu.storage(new Float32Array(8).fill(1)), dx = gpu.storage(8); // dx accumulates
 *   await gpu.run([dropoutBackward(gpu, dy, dx, { length: 8, p: 0.5, seed: 7 })]); // same seed
 *   await gpu.read(dx); // 2 where the forward kept x, else 0
 * }
 * ```
 */
export function dropoutBackward(
  gpu: GpuContext,
  dy: GpuView,
  dx: GpuView,
  opts: DropoutOptions,
): Dispatch {
  const { length } = opts;
  checkLength("dropout_backward", { dy: [dy, length], dx: [dx, length] });
  const { views, grid } = quadDispatch(gpu, "dropout_backward", { dy, dx }, length, WG);
  return gpu.prepare(DROPOUT_BACKWARD, dropoutUniforms(opts), views, grid);
}
